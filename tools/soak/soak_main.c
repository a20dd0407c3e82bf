/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* soak_main.c - scwire-soak's command line, the phases of a run and the
 * report.
 *
 * A run has a load phase (--seconds, or until every connection has moved
 * --messages each way), then a closing phase bounded by --timeout in which
 * every stream is stopped and every channel closed.  What each healthy
 * connection held is added up and printed as `key: value` lines; the exit
 * status is 0 only when nothing was lost, duplicated or reordered and every
 * healthy connection ended as expected (finished, or with --expect-shutdown
 * ended by the IUT's shutdown), 1 otherwise, 2 for a bad command line. */
#include "soak.h"
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Connections of failures printed on stderr; the rest are only counted. */
#define NOTES_MAX 20
/* Descriptors besides the connections: stdio, libev's own, /proc reads. */
#define FD_SPARE 32

static void usage(FILE *f)
{
    fputs("Usage: scwire-soak --addr HOST:PORT [OPTION]...\n"
          "Hold N connections with numbered streams both ways against a scwire IUT, with\n"
          "hostile connections alongside, and report whether anything was lost.\n\n"
          "  --addr HOST:PORT     the IUT (IPv4)\n"
          "  --codec CODEC        msgpack or lenprefix (default msgpack)\n"
          "  --conns N            healthy connections (default 1000)\n"
          "  --seconds S          length of the load phase (default 10)\n"
          "  --messages N         per connection and direction, then close early (default: no cap)\n"
          "  --window N           echo yields unanswered at once per connection (default 8)\n"
          "  --rate R             messages/s per direction over all connections, 0 = no cap (default 0)\n"
          "  --stream-n N         yields per ctx_stream_out round (default 64)\n"
          "  --timeout S          bound of the closing phase after the load, and of the\n"
          "                       bystander's wait for each answer (default 30)\n"
          "  --pid PID            sample the IUT's RSS and open descriptors from /proc\n"
          "  --expect-shutdown    the IUT is shut down during the load: connections must end\n"
          "                       with ContextCancelled or a closed channel, not hang; lost\n"
          "                       then counts gaps only, the tail is cut-by-shutdown\n"
          "  --chaos SPEC         'default', 'attack' (default and the kinds waiters, register\n"
          "                       and idle: a registry target) or KIND=RATE,... connections/s\n"
          "                       of the kinds drop, nonmap, truncated, unknown-cid, garbage,\n"
          "                       slowloris, half-open, reset, waiters, register, idle\n"
          "                       (default: none)\n"
          "  --flood N            commands of one waiters or register connection (default 2000)\n"
          "  --probe-every S      the bystander's pause between its echo calls, 0 for no\n"
          "                       bystander (default 0.01)\n"
          "  --chaos-max N        chaos connections open at once (default 200)\n"
          "  --chaos-hold S       longest life of a chaos connection (default 12)\n"
          "  --help               this text\n\n"
          "Exit status: 0 nothing lost, duplicated or reordered and every healthy connection\n"
          "ended as expected; 1 otherwise (the reasons are printed); 2 bad command line.\n",
          f);
}

static double num_arg(const char *name, const char *v, double lo, double hi)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= lo && d <= hi))
        cli_usage_error("%s wants a number from %g to %g, not '%s'", name, lo, hi, v);
    return d;
}

static void parse_args(int argc, char **argv, soak_opts *o)
{
    enum { O_ADDR = 256, O_CODEC, O_CONNS, O_SECONDS, O_MESSAGES, O_WINDOW, O_RATE, O_STREAM_N,
           O_TIMEOUT, O_PID, O_SHUTDOWN, O_CHAOS, O_CHAOS_MAX, O_CHAOS_HOLD, O_FLOOD, O_PROBE,
           O_HELP };
    static const struct option longopts[] = {
        { "addr", required_argument, NULL, O_ADDR },       { "codec", required_argument, NULL, O_CODEC },
        { "conns", required_argument, NULL, O_CONNS },     { "seconds", required_argument, NULL, O_SECONDS },
        { "messages", required_argument, NULL, O_MESSAGES }, { "window", required_argument, NULL, O_WINDOW },
        { "rate", required_argument, NULL, O_RATE },       { "stream-n", required_argument, NULL, O_STREAM_N },
        { "timeout", required_argument, NULL, O_TIMEOUT }, { "pid", required_argument, NULL, O_PID },
        { "expect-shutdown", no_argument, NULL, O_SHUTDOWN }, { "chaos", required_argument, NULL, O_CHAOS },
        { "chaos-max", required_argument, NULL, O_CHAOS_MAX },
        { "chaos-hold", required_argument, NULL, O_CHAOS_HOLD }, { "help", no_argument, NULL, O_HELP },
        { "flood", required_argument, NULL, O_FLOOD }, { "probe-every", required_argument, NULL, O_PROBE },
        { NULL, 0, NULL, 0 }
    };
    memset(o, 0, sizeof(*o));
    o->codec = SC_CODEC_MSGPACK;
    o->conns = 1000;
    o->seconds = 10;
    o->window = 8;
    o->stream_n = 64;
    o->timeout = 30;
    o->chaos_max = 200;
    o->chaos_hold = 12;
    o->flood = 2000;
    o->probe_every = 0.01;
    sc_err err;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, ":", longopts, NULL)) != -1;) {
        switch (c) {
        case O_ADDR: o->addr = optarg; break;
        case O_CODEC:
            if (sc_codec_parse(optarg, &o->codec) != SC_OK)
                cli_usage_error("--codec is msgpack or lenprefix, not '%s'", optarg);
            break;
        case O_CONNS: o->conns = (unsigned)num_arg("--conns", optarg, 1, 1000000); break;
        case O_SECONDS: o->seconds = num_arg("--seconds", optarg, 0.1, 86400); break;
        case O_MESSAGES: o->messages = (uint64_t)num_arg("--messages", optarg, 1, 1e12); break;
        /* Below the 64-message context buffer, so that an IUT without
         * backpressure on ctx_echo is never overrun by the window alone. */
        case O_WINDOW: o->window = (unsigned)num_arg("--window", optarg, 1, 60); break;
        case O_RATE: o->rate = num_arg("--rate", optarg, 0, 1e9); break;
        case O_STREAM_N: o->stream_n = (unsigned)num_arg("--stream-n", optarg, 1, 100000); break;
        case O_TIMEOUT: o->timeout = num_arg("--timeout", optarg, 0.1, 3600); break;
        case O_PID: o->pid = (long)num_arg("--pid", optarg, 1, 4194304); break;
        case O_SHUTDOWN: o->expect_shutdown = 1; break;
        case O_CHAOS:
            if (soak_chaos_parse(optarg, o->chaos_rate, &err) != SC_OK)
                cli_usage_error("%s", err.msg);
            break;
        case O_CHAOS_MAX: o->chaos_max = (unsigned)num_arg("--chaos-max", optarg, 1, 100000); break;
        case O_CHAOS_HOLD: o->chaos_hold = num_arg("--chaos-hold", optarg, 0.1, 3600); break;
        case O_FLOOD: o->flood = (unsigned)num_arg("--flood", optarg, 1, 1000000); break;
        case O_PROBE: o->probe_every = num_arg("--probe-every", optarg, 0, 60); break;
        case O_HELP: usage(stdout); exit(0);
        default:
            cli_bad_option(c, O_ADDR, argv);
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (!o->addr)
        cli_usage_error("--addr HOST:PORT is required");
}

static int resolve(const char *addr, struct sockaddr_in *sa, sc_err *err)
{
    char host[64];
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host))
        return sc_err_set(err, SC_EARG, "--addr '%s' is not HOST:PORT", addr);
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *ai;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535 || getaddrinfo(host, colon + 1, &hints, &ai) != 0)
        return sc_err_set(err, SC_EARG, "--addr '%s' is not an IPv4 address and port 1..65535", addr);
    memcpy(sa, ai->ai_addr, sizeof(*sa));
    freeaddrinfo(ai);
    return SC_OK;
}

/* Every connection is a descriptor: take the hard limit, and refuse a run
 * that could not open what it was asked to rather than fail half-way. */
static int raise_fd_limit(const soak_opts *o, sc_err *err)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)o->conns + (soak_chaos_enabled(o) ? o->chaos_max : 0) + FD_SPARE;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return sc_err_set(err, SC_ESTATE, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            return sc_err_set(err, SC_ESTATE, "setrlimit(RLIMIT_NOFILE): %s", strerror(errno));
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        return sc_err_set(err, SC_ELIMIT,
                          "the descriptor limit is %llu (hard limit) but %llu connections and "
                          "spares need %llu: raise it (ulimit -Hn as root) or ask for fewer --conns",
                          (unsigned long long)rl.rlim_cur,
                          (unsigned long long)(need - FD_SPARE), (unsigned long long)need);
    return SC_OK;
}

void soak_note(soak *S, const char *fmt, ...)
{
    if (S->failures_shown++ >= NOTES_MAX) {
        if (S->failures_shown == NOTES_MAX + 1)
            fprintf(stderr, "scwire-soak: (further failures only counted)\n");
        return;
    }
    va_list ap;
    fputs("scwire-soak: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void load_over(soak *S)
{
    if (S->load_over)
        return;
    S->load_over = 1;
    S->load_ended_at = ev_now(S->ev);
    ev_timer_stop(S->ev, &S->load_timer);
    soak_chaos_stop(S);
    soak_probe_stop(S);
    ev_timer_start(S->ev, &S->deadline);
    soak_conns_load_over(S);
}

void soak_conn_ended(soak *S)
{
    if (--S->live > 0)
        return;
    load_over(S);
    ev_break(S->ev, EVBREAK_ALL);
}

static void on_tick(struct ev_loop *ev, ev_timer *w, int revents)
{
    soak *S = w->data;
    (void)ev;
    (void)revents;
    soak_conns_tick(S);
    if (!S->load_over && soak_conns_load_done(S))
        load_over(S);
}

static void on_load_timer(struct ev_loop *ev, ev_timer *w, int revents)
{
    (void)ev;
    (void)revents;
    load_over(w->data);
}

static void on_deadline(struct ev_loop *ev, ev_timer *w, int revents)
{
    (void)revents;
    soak_conns_deadline(w->data);
    ev_break(ev, EVBREAK_ALL);
}

static void print_kb_figures(const char *name, long first, long peak, long last)
{
    if (peak < 0)
        printf("%s: unknown (no --pid, or /proc unreadable)\n", name);
    else
        printf("%s: first %ld, peak %ld, last %ld\n", name, first, peak, last);
}

/* Append one reason to the verdict. */
static void why(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void why(char *buf, size_t n, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used && used + 3 <= n) {
        memcpy(buf + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, n - used, fmt, ap);
    va_end(ap);
}

static int report(const soak *S)
{
    const soak_opts *o = &S->o;
    const soak_tally *e = &S->echo, *t = &S->out;
    unsigned long const *ends = S->ends;
    uint64_t gaps = e->gaps + t->gaps, tail = e->tail + t->tail;
    uint64_t lost = o->expect_shutdown ? gaps : gaps + tail;
    uint64_t dup = e->duplicated + t->duplicated, reord = e->reordered + t->reordered;
    char verdict[1024] = "";

    printf("target: %s, codec %s, pid %ld\n", o->addr, sc_codec_name(o->codec), o->pid);
    printf("load: %u connections, window %u, rate %g/s per direction (0 = no cap), %g s%s\n",
           o->conns, o->window, o->rate, o->seconds, o->expect_shutdown ? ", shutdown expected" : "");
    printf("connections: %u healthy: %lu finished, %lu cancelled, %lu closed, %lu hung, %lu failed\n",
           o->conns, ends[SOAK_END_FINISHED], ends[SOAK_END_CANCELLED], ends[SOAK_END_CLOSED],
           ends[SOAK_END_HUNG], ends[SOAK_END_FAILED]);
    soak_chaos_report(S, stdout);
    soak_probe_report(S, stdout);
    printf("echo: sent %llu, received %llu\n", (unsigned long long)e->sent, (unsigned long long)e->received);
    printf("stream-out: sent %llu, received %llu\n", (unsigned long long)t->sent,
           (unsigned long long)t->received);
    printf("contexts: ctx_echo %llu (%llu cancelled, %llu cut by the channel's end), ctx_stream_out "
           "%llu (%llu cancelled, %llu cut)\n", (unsigned long long)e->contexts,
           (unsigned long long)e->cancelled, (unsigned long long)e->cut, (unsigned long long)t->contexts,
           (unsigned long long)t->cancelled, (unsigned long long)t->cut);
    printf("messages: %llu sent, %llu received\n", (unsigned long long)(e->sent + t->sent),
           (unsigned long long)(e->received + t->received));
    printf("lost: %llu\n", (unsigned long long)lost);
    printf("duplicated: %llu\n", (unsigned long long)dup);
    printf("reordered: %llu\n", (unsigned long long)reord);
    if (o->expect_shutdown)
        printf("cut-by-shutdown: %llu\n", (unsigned long long)tail);
    printf("after-nil-bytes: %lu\n", S->after_nil);
    print_kb_figures("target-rss-kb", S->rss_kb_first, S->rss_kb_peak, S->rss_kb_last);
    print_kb_figures("target-fds", S->fds_first, S->fds_peak, S->fds_last);
    printf("elapsed: load %.1f s, closing %.1f s\n", S->load_ended_at - S->started_at,
           ev_now(S->ev) - S->load_ended_at);

    if (lost)
        why(verdict, sizeof(verdict), "%llu message(s) lost", (unsigned long long)lost);
    if (dup)
        why(verdict, sizeof(verdict), "%llu message(s) duplicated", (unsigned long long)dup);
    if (reord)
        why(verdict, sizeof(verdict), "%llu message(s) reordered", (unsigned long long)reord);
    if (S->after_nil)
        why(verdict, sizeof(verdict), "%lu byte(s) arrived after a nil ended the channel", S->after_nil);
    /* A shutdown ends the bystander's call too: only a call lost while the
     * IUT serves is one. */
    if (soak_probe_failures(S) && !o->expect_shutdown)
        why(verdict, sizeof(verdict), "the bystander's call got no answer");
    if (ends[SOAK_END_HUNG])
        why(verdict, sizeof(verdict), "%lu connection(s) hung", ends[SOAK_END_HUNG]);
    if (ends[SOAK_END_FAILED])
        why(verdict, sizeof(verdict), "%lu connection(s) failed", ends[SOAK_END_FAILED]);
    if (o->expect_shutdown) {
        if (!ends[SOAK_END_CANCELLED] && !ends[SOAK_END_CLOSED])
            why(verdict, sizeof(verdict), "no connection was ended by a shutdown of the IUT");
    } else if (ends[SOAK_END_CANCELLED] + ends[SOAK_END_CLOSED]) {
        why(verdict, sizeof(verdict), "%lu connection(s) ended by the IUT (%lu cancelled, %lu closed)",
            ends[SOAK_END_CANCELLED] + ends[SOAK_END_CLOSED], ends[SOAK_END_CANCELLED],
            ends[SOAK_END_CLOSED]);
    }
    if (verdict[0]) {
        printf("result: FAIL: %s\n", verdict);
        fprintf(stderr, "scwire-soak: FAIL: %s\n", verdict);
        return 1;
    }
    printf("result: ok\n");
    return 0;
}

int main(int argc, char **argv)
{
    static soak S;
    static char uuid[37];
    sc_err err;
    cli_prog = "scwire-soak";
    parse_args(argc, argv, &S.o);
    if (resolve(S.o.addr, &S.sa, &err) != SC_OK)
        cli_usage_error("%s", err.msg);
    if (raise_fd_limit(&S.o, &err) != SC_OK) {
        fprintf(stderr, "scwire-soak: %s\n", err.msg);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    srand((unsigned)getpid());
    S.ev = ev_default_loop(EVFLAG_AUTO);
    if (!S.ev) {
        fprintf(stderr, "scwire-soak: libev could not start an event loop\n");
        return 1;
    }
    bench_cid(uuid, 0x50a4, (unsigned long)getpid());
    S.uid = (sc_uid){ SC_STR("scwire-soak"), { uuid, 36 } };
    S.uid_msg = bench_msg_uid(S.o.codec, &S.uid);
    S.nil_msg = bench_msg_nil(S.o.codec);
    S.started_at = ev_now(S.ev);

    ev_timer_init(&S.tick, on_tick, SOAK_TICK, SOAK_TICK);
    ev_timer_init(&S.load_timer, on_load_timer, S.o.seconds, 0);
    ev_timer_init(&S.deadline, on_deadline, S.o.timeout, 0);
    S.tick.data = S.load_timer.data = S.deadline.data = &S;
    ev_timer_start(S.ev, &S.tick);
    ev_timer_start(S.ev, &S.load_timer);
    soak_proc_start(&S);
    if (soak_chaos_start(&S, &err) != SC_OK || soak_conns_start(&S, &err) != SC_OK ||
        soak_probe_start(&S, &err) != SC_OK) {
        fprintf(stderr, "scwire-soak: %s\n", err.msg);
        return 1;
    }
    if (S.live > 0)
        ev_run(S.ev, 0);
    load_over(&S);
    soak_proc_sample(&S);
    int rc = report(&S);
    soak_chaos_stop(&S);
    soak_chaos_free(&S);
    soak_probe_free(&S);
    soak_conns_free(&S);
    bmsg_free(&S.uid_msg);
    bmsg_free(&S.nil_msg);
    ev_loop_destroy(S.ev);
    return rc;
}
