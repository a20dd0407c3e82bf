/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* main.c - scwire-tap, a recording TCP proxy for the tractor 0.1.0a4 wire
 * protocol: reads the flags, resolves the target, opens the trace and the
 * listening socket, and hands over to the relay (proxy.h).
 *
 * The bound address is the first line on stdout because tests start the tap
 * on port 0 and need to learn where it listens; the trace exists by then. */
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

static void print_help(void)
{
    printf("Usage: " PROG " --listen HOST:PORT --target HOST:PORT --out FILE [OPTION]...\n"
           "Forward every TCP connection made to --listen to --target, bytes unchanged both\n"
           "ways, and record each msgpack message, FIN, reset and decode error in FILE as\n"
           "JSON lines (the format of the recorded tractor " PROFILE " traces, plus \"t\",\n"
           "seconds since the tap started).  Prints the address it listens on as HOST:PORT\n"
           "on the first line of standard output; runs until SIGINT or SIGTERM.\n"
           "\n"
           "  --listen HOST:PORT   listen there; [ADDRESS]:PORT for IPv6, port 0 picks a\n"
           "                       free one\n"
           "  --target HOST:PORT   connect each client to this address (5 s timeout)\n"
           "  --out FILE           write the trace there (created or truncated)\n"
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
           CHOP_MAX, MAX_CONNS_MAX, DEFAULT_MAX_CONNS);
}

enum {
    OPT_LISTEN = 256, OPT_TARGET, OPT_CODEC, OPT_OUT, OPT_CHOP, OPT_MAX_CONNS, OPT_QUIET,
    OPT_HELP, OPT_VERSION
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
    { NULL, 0, NULL, 0 }
};

int main(int argc, char **argv)
{
    tap_config cfg;
    net_hostport listen_hp, target_hp;
    struct addrinfo *target;
    const char *listen_arg = NULL, *out = NULL;
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
    if (!cfg.target_name)
        cli_usage_error("--target HOST:PORT is required");
    if (!out)
        cli_usage_error("--out FILE is required");

    /* Once, here: getaddrinfo blocks, and the loop must not. */
    if (net_resolve(&target_hp, 0, &target, &err) != SC_OK)
        cli_fatal("--target: %s", err.msg);
    cfg.target = target;
    if (trace_open(&tr, out, &err) != SC_OK)
        cli_fatal("%s", err.msg);

    /* Whoever started us may signal as soon as it reads the address line;
     * hold SIGINT and SIGTERM until the loop can take them. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &sigs, NULL);

    if (net_listen(&listen_hp, &fd, bound, &err) != SC_OK)
        cli_fatal("--listen: %s", err.msg);
    printf("%s\n", bound);
    fflush(stdout);

    status = tap_run(&cfg, fd, &tr);
    if (trace_close(&tr, &err) != SC_OK && status == 0) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        status = 1;
    }
    freeaddrinfo(target);
    return status;
}
