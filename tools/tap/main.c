/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* main.c - scwire-tap, a recording TCP proxy for the tractor 0.1.0a4 wire
 * protocol: reads the flags, resolves the target, opens the trace and the
 * listening socket, and hands over to the relay (proxy.h).  With --delay,
 * --jitter and --transparent it is also the delaying relay that stands for
 * a long link between two network namespaces (conformance/netem/).
 *
 * The bound address is the first line on stdout because tests start the tap
 * on port 0 and need to learn where it listens; the trace exists by then. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "net.h"
#include "proxy.h"
#include "trace.h"

#define PROG "scwire-tap"
#define PROFILE "0.1.0a4"
#define VERSION_LINE PROG " 0.1.0 (protocol profile " PROFILE ")"
#define DEFAULT_MAX_CONNS 256
#define CHOP_MAX (1u << 20)
#define MAX_CONNS_MAX 65536
#define DELAY_MAX_MS 60000.0
#define DEFAULT_BUFFER (1u << 20)
#define BUFFER_MIN 4096u
#define BUFFER_MAX (1u << 30)

static void print_help(void)
{
    printf("Usage: " PROG " --listen HOST:PORT (--target HOST:PORT | --transparent)\n"
           "                  (--out FILE | --no-trace) [OPTION]...\n"
           "Forward every TCP connection made to --listen to --target, bytes unchanged both\n"
           "ways, and record each msgpack message, FIN, reset and decode error in FILE as\n"
           "JSON lines (the format of the recorded tractor " PROFILE " traces, plus \"t\",\n"
           "seconds since the tap started).  Prints the address it listens on as HOST:PORT\n"
           "on the first line of standard output; runs until SIGINT or SIGTERM.\n"
           "\n"
           "  --listen HOST:PORT   listen there; [ADDRESS]:PORT for IPv6, port 0 picks a\n"
           "                       free one\n"
           "  --target HOST:PORT   connect each client to this address (5 s timeout)\n"
           "  --transparent        connect each client to where it was headed before the\n"
           "                       packet filter redirected it to the tap (nftables\n"
           "                       \"redirect\"); a client that was not redirected is reset\n"
           "  --out FILE           write the trace there (created or truncated)\n"
           "  --no-trace           relay only: no trace, nothing decoded\n"
           "  --delay [DIR=]MS     hold the bytes of direction DIR (c2s: from the client,\n"
           "                       s2c: to it; both without DIR) MS milliseconds, 0..%g,\n"
           "                       decimals allowed; FIN and reset keep their place after\n"
           "                       the bytes, and the connect to the target waits for the\n"
           "                       c2s delay (default 0)\n"
           "  --jitter [DIR=]MS    vary each read's holding time by up to MS either way,\n"
           "                       without reordering (default 0)\n"
           "  --keep-port          connect to the target from the client's port when it\n"
           "                       is free there, so the target's logs name the client's\n"
           "                       port\n"
           "  --mark N             SO_MARK of the connections to targets (needs\n"
           "                       CAP_NET_ADMIN), so a redirect rule can let them pass\n"
           "  --buffer BYTES       bytes queued for one side before the other side is no\n"
           "                       longer read, %u..%u (default %u); given, it is also\n"
           "                       the kernel buffer of every socket, so that the tap\n"
           "                       holds about as much as a path of that size\n"
           "  --codec CODEC        msgpack or lenprefix, for decoding only (default msgpack)\n"
           "  --chop N             forward in writes of at most N bytes, 1..%u (default:\n"
           "                       as much as the socket takes)\n"
           "  --max-conns N        connections relayed at once, 1..%u; more wait in the\n"
           "                       listen backlog (default %u)\n"
           "  --quiet              no per-connection lines on standard error\n"
           "  --help               print this text and exit\n"
           "  --version            print the version and exit\n"
           "\n"
           "Exit status: 0 after SIGINT or SIGTERM, 1 when the tap cannot start or cannot\n"
           "write the trace, 2 for a bad command line.\n",
           DELAY_MAX_MS, BUFFER_MIN, BUFFER_MAX, DEFAULT_BUFFER, CHOP_MAX, MAX_CONNS_MAX,
           DEFAULT_MAX_CONNS);
}

/* --delay/--jitter: "MS", "c2s=MS" or "s2c=MS", milliseconds; sets the
 * base (or the jitter) of the directions named, in seconds. */
static void parse_hold(const char *opt, const char *arg, tap_delay delay[2], int jitter)
{
    const char *ms = arg;
    int first = 0, last = 1;
    char *end;
    double v;

    if (strncmp(arg, "c2s=", 4) == 0 || strncmp(arg, "s2c=", 4) == 0) {
        first = last = arg[0] == 'c' ? TAP_C2S : TAP_S2C;
        ms = arg + 4;
    } else if (strchr(arg, '=')) {
        cli_usage_error("%s: '%s': the direction is c2s or s2c", opt, arg);
    }
    errno = 0;
    v = strtod(ms, &end);
    if (ms[0] == '\0' || *end != '\0' || errno != 0 || !(v >= 0 && v <= DELAY_MAX_MS))
        cli_usage_error("%s: '%s' is not a number of milliseconds from 0 to %g", opt, arg,
                        DELAY_MAX_MS);
    for (int d = first; d <= last; d++) {
        if (jitter)
            delay[d].jitter = v / 1000.0;
        else
            delay[d].base = v / 1000.0;
    }
}

enum {
    OPT_LISTEN = 256, OPT_TARGET, OPT_CODEC, OPT_OUT, OPT_CHOP, OPT_MAX_CONNS, OPT_QUIET,
    OPT_HELP, OPT_VERSION, OPT_TRANSPARENT, OPT_NO_TRACE, OPT_DELAY, OPT_JITTER, OPT_KEEP_PORT,
    OPT_MARK, OPT_BUFFER
};

static const struct option long_options[] = {
    { "listen", required_argument, NULL, OPT_LISTEN },
    { "target", required_argument, NULL, OPT_TARGET },
    { "codec", required_argument, NULL, OPT_CODEC },
    { "out", required_argument, NULL, OPT_OUT },
    { "chop", required_argument, NULL, OPT_CHOP },
    { "max-conns", required_argument, NULL, OPT_MAX_CONNS },
    { "quiet", no_argument, NULL, OPT_QUIET },
    { "help", no_argument, NULL, OPT_HELP },
    { "version", no_argument, NULL, OPT_VERSION },
    { "transparent", no_argument, NULL, OPT_TRANSPARENT },
    { "no-trace", no_argument, NULL, OPT_NO_TRACE },
    { "delay", required_argument, NULL, OPT_DELAY },
    { "jitter", required_argument, NULL, OPT_JITTER },
    { "keep-port", no_argument, NULL, OPT_KEEP_PORT },
    { "mark", required_argument, NULL, OPT_MARK },
    { "buffer", required_argument, NULL, OPT_BUFFER },
    { NULL, 0, NULL, 0 }
};

int main(int argc, char **argv)
{
    tap_config cfg;
    net_hostport listen_hp, target_hp;
    struct addrinfo *target = NULL;
    const char *listen_arg = NULL, *out = NULL;
    int no_trace = 0;
    char bound[NET_NAME_MAX];
    trace tr;
    sc_err err;
    sigset_t sigs;
    int opt, fd, status;

    cli_prog = PROG;
    /* One write(2) per message line, even when stderr is shared. */
    setvbuf(stderr, NULL, _IOLBF, 0);

    memset(&cfg, 0, sizeof(cfg));
    cfg.codec = SC_CODEC_MSGPACK;
    cfg.max_conns = DEFAULT_MAX_CONNS;
    cfg.buffer = DEFAULT_BUFFER;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", long_options, NULL)) != -1) {
        switch (opt) {
        case OPT_LISTEN:
            listen_arg = optarg;
            if (net_parse_hostport("--listen", optarg, 0, &listen_hp, &err) != SC_OK)
                cli_usage_error("%s", err.msg);
            break;
        case OPT_TARGET:
            cfg.target_name = optarg;
            if (net_parse_hostport("--target", optarg, 1, &target_hp, &err) != SC_OK)
                cli_usage_error("%s", err.msg);
            break;
        case OPT_CODEC:
            if (sc_codec_parse(optarg, &cfg.codec) != SC_OK)
                cli_usage_error("--codec: unknown codec '%s' (msgpack or lenprefix)", optarg);
            break;
        case OPT_OUT:
            if (optarg[0] == '\0')
                cli_usage_error("--out: the file name is empty");
            out = optarg;
            break;
        case OPT_CHOP:
            cfg.chop = cli_parse_count("--chop", optarg, 1, CHOP_MAX);
            break;
        case OPT_MAX_CONNS:
            cfg.max_conns = (unsigned)cli_parse_count("--max-conns", optarg, 1, MAX_CONNS_MAX);
            break;
        case OPT_QUIET:
            cfg.quiet = 1;
            break;
        case OPT_TRANSPARENT:
            cfg.transparent = 1;
            break;
        case OPT_NO_TRACE:
            no_trace = 1;
            break;
        case OPT_DELAY:
        case OPT_JITTER:
            parse_hold(opt == OPT_DELAY ? "--delay" : "--jitter", optarg, cfg.delay,
                       opt == OPT_JITTER);
            break;
        case OPT_KEEP_PORT:
            cfg.keep_port = 1;
            break;
        case OPT_MARK:
            cfg.mark = (unsigned)cli_parse_count("--mark", optarg, 1, 0xffffffffu);
            break;
        case OPT_BUFFER:
            cfg.buffer = (size_t)cli_parse_count("--buffer", optarg, BUFFER_MIN, BUFFER_MAX);
            cfg.sockbuf = (int)cfg.buffer;
            break;
        case OPT_HELP:
            print_help();
            return 0;
        case OPT_VERSION:
            puts(VERSION_LINE);
            return 0;
        default:
            cli_bad_option(opt, OPT_LISTEN, argv);
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!listen_arg)
        cli_usage_error("--listen HOST:PORT is required");
    if (!cfg.target_name && !cfg.transparent)
        cli_usage_error("--target HOST:PORT or --transparent is required");
    if (cfg.target_name && cfg.transparent)
        cli_usage_error("--target and --transparent exclude each other");
    if (!out && !no_trace)
        cli_usage_error("--out FILE or --no-trace is required");
    if (out && no_trace)
        cli_usage_error("--out and --no-trace exclude each other");

    if (cfg.mark) {
        int e = net_mark_allowed(cfg.mark);
        if (e != 0)
            cli_fatal("--mark %u: %s%s", cfg.mark, strerror(e),
                      e == EPERM ? " (it needs CAP_NET_ADMIN)" : "");
    }
    /* Once, here: getaddrinfo blocks, and the loop must not. */
    if (cfg.target_name && net_resolve(&target_hp, 0, &target, &err) != SC_OK)
        cli_fatal("--target: %s", err.msg);
    cfg.target = target;
    if (cfg.transparent)
        cfg.target_name = "the original destination";
    if (no_trace)
        trace_none(&tr);
    else if (trace_open(&tr, out, &err) != SC_OK)
        cli_fatal("%s", err.msg);

    /* Whoever started us may signal as soon as it reads the address line;
     * hold SIGINT and SIGTERM until the loop can take them. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &sigs, NULL);

    if (net_listen(&listen_hp, cfg.sockbuf, &fd, bound, &err) != SC_OK)
        cli_fatal("--listen: %s", err.msg);
    printf("%s\n", bound);
    fflush(stdout);

    status = tap_run(&cfg, fd, &tr);
    if (trace_close(&tr, &err) != SC_OK && status == 0) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        status = 1;
    }
    if (target)
        freeaddrinfo(target);
    return status;
}
