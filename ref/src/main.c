/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* main.c - scwire-ref, the reference runtime daemon: reads the flags, opens
 * the listening socket, gives the actor its log sink and randomness, and
 * hands everything to the loop (loop.h).
 *
 * The bound address is the first line on stdout because tests start the
 * daemon on port 0 and need to learn where it listens.
 *
 * Child mode: started as tractor starts its children, with
 *     --uid "('name', 'uuid')" --parent_addr "('host', port)"
 * (Python tuple reprs), the actor connects to its parent instead of
 * listening, and listens where the parent's init map says; it prints
 * nothing on stdout. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "actor.h"
#include "cli.h"
#include "hash.h"
#include "loop.h"

#define PROG "scwire-ref"
#define PROFILE "0.1.0a4"
#define VERSION_LINE PROG " 0.1.0 (protocol profile " PROFILE ")"
#define DEFAULT_LISTEN "127.0.0.1:0"

/* sc_event.host is 64 bytes, and the registry host travels in it. */
#define HOST_MAX 63
/* Flags a child inherits from its parent's command line, at most. */
#define INHERIT_MAX 40
#define CHILD_ARGS_MAX 16
#define DEFAULT_MAX_CHILDREN 64

typedef struct logger {
    const char *name;
    int level;
} logger;

/* --- the actor's callbacks ---------------------------------------------- */

static void log_line(void *ud, int level, const char *line)
{
    const logger *lg = ud;
    const char *lname = sc_loglevel_name(level);
    char upper[16], stamp[16];
    struct timespec ts;
    struct tm tm;
    size_t i;

    if (level < lg->level)
        return;
    for (i = 0; lname[i] && i < sizeof(upper) - 1; i++)
        upper[i] = (char)toupper((unsigned char)lname[i]);
    upper[i] = '\0';
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ld %s %s: %s\n", stamp, ts.tv_nsec / 1000000, upper, lg->name, line);
}

static int urandom_fill(uint8_t *out, size_t n)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    while (n > 0) {
        ssize_t r = read(fd, out, n);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            close(fd);
            return -1;
        }
        out += r;
        n -= (size_t)r;
    }
    close(fd);
    return 0;
}

static void fill_random(void *ud, uint8_t *out, size_t n)
{
    (void)ud;
    while (n > 0) {
        ssize_t r = getrandom(out, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            /* ENOSYS on old kernels or under a seccomp filter. */
            break;
        }
        out += r;
        n -= (size_t)r;
    }
    /* Cids and uuids must not repeat, so going on without randomness is no option. */
    if (n > 0 && urandom_fill(out, n) < 0)
        cli_fatal("no source of random bytes: %s", strerror(errno));
}

/* --- flag values ------------------------------------------------------- */

/* HOST:PORT or [V6]:PORT; host gets the name without brackets. */
static void parse_hostport(const char *opt, const char *s, char *host, size_t hostsz,
                           uint16_t *port, unsigned min_port)
{
    const char *colon, *h = s;
    char label[32];
    size_t hlen;

    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            cli_usage_error("%s: '%s' is not [HOST]:PORT", opt, s);
        h = s + 1;
        hlen = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            cli_usage_error("%s: '%s' is not HOST:PORT", opt, s);
        hlen = (size_t)(colon - s);
        if (memchr(s, ':', hlen))
            cli_usage_error("%s: '%s': write an IPv6 address as [ADDRESS]:PORT", opt, s);
    }
    if (hlen == 0)
        cli_usage_error("%s: '%s' has no host", opt, s);
    if (hlen >= hostsz)
        cli_usage_error("%s: host of '%s' is longer than %zu characters", opt, s, hostsz - 1);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    snprintf(label, sizeof(label), "%s port", opt);
    *port = (uint16_t)cli_parse_count(label, colon + 1, min_port, 65535);
}

/* Canonical 8-4-4-4-12 hex text, stored lower-case. */
static void parse_uuid(const char *s, char out[37])
{
    size_t i;
    if (strlen(s) != 36)
        cli_usage_error("--uuid: '%s' is not a uuid (8-4-4-4-12 hex digits)", s);
    for (i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            cli_usage_error("--uuid: '%s' is not a uuid (8-4-4-4-12 hex digits)", s);
        out[i] = (char)tolower((unsigned char)s[i]);
    }
    out[36] = '\0';
}

static void make_uuid4(char out[37])
{
    uint8_t b[16];
    fill_random(NULL, b, sizeof(b));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);   /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

/* --- Python literals of tractor's child command line ----------------------- */

static void put_utf8(char **o, const char *end, unsigned long cp, int *ok)
{
    char b[4];
    int n;
    if (cp >= 0xd800 && cp <= 0xdfff) {
        *ok = 0;
        return;
    }
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else if (cp <= 0x10ffff) {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    } else {
        *ok = 0;
        return;
    }
    if (end - *o < n) {
        *ok = 0;
        return;
    }
    memcpy(*o, b, (size_t)n);
    *o += n;
}

static int hex_digits(const char **p, int n, unsigned long *out)
{
    *out = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (!isxdigit((unsigned char)c))
            return 0;
        *out = *out * 16 + (unsigned long)(isdigit((unsigned char)c) ? c - '0' : (tolower(c) - 'a' + 10));
    }
    *p += n;
    return 1;
}

/* A Python str literal as repr() writes it: '...' or "..." with backslash
 * escapes; the text goes to out as UTF-8, NUL-terminated (no NUL inside). */
static int py_str(const char **p, char *out, size_t outsz)
{
    char q = **p, *o = out, *end = out + outsz - 1;
    int ok = 1;
    if (q != '\'' && q != '"')
        return 0;
    (*p)++;
    while (ok && **p && **p != q) {
        unsigned long cp;
        char c = *(*p)++;
        if (c != '\\') {
            if (o >= end)
                return 0;
            *o++ = c;
            continue;
        }
        c = *(*p)++;
        switch (c) {
        case '\\': case '\'': case '"': cp = (unsigned char)c; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'a': cp = '\a'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'v': cp = '\v'; break;
        case 'x': if (!hex_digits(p, 2, &cp)) return 0; break;
        case 'u': if (!hex_digits(p, 4, &cp)) return 0; break;
        case 'U': if (!hex_digits(p, 8, &cp)) return 0; break;
        default:
            if (c < '0' || c > '7')
                return 0;
            cp = (unsigned long)(c - '0');
            for (int i = 0; i < 2 && **p >= '0' && **p <= '7'; i++)
                cp = cp * 8 + (unsigned long)(*(*p)++ - '0');
        }
        if (cp == 0)
            return 0;
        put_utf8(&o, end, cp, &ok);
    }
    if (!ok || **p != q)
        return 0;
    (*p)++;
    *o = '\0';
    return 1;
}

static void skip_blanks(const char **p)
{
    while (**p == ' ')
        (*p)++;
}

/* "('a', 'b')" or "('host', 1234)" (a list in brackets too): two items, the
 * first a str, the second a str (second_str) or a port number. */
static int py_pair(const char *s, char *first, size_t firstsz, int second_str, char *second,
                   size_t secondsz, unsigned long *num)
{
    const char *p = s;
    char close;
    skip_blanks(&p);
    if (*p != '(' && *p != '[')
        return 0;
    close = *p == '(' ? ')' : ']';
    p++;
    skip_blanks(&p);
    if (!py_str(&p, first, firstsz))
        return 0;
    skip_blanks(&p);
    if (*p++ != ',')
        return 0;
    skip_blanks(&p);
    if (second_str) {
        if (!py_str(&p, second, secondsz))
            return 0;
    } else {
        char *end;
        if (!isdigit((unsigned char)*p))
            return 0;
        errno = 0;
        *num = strtoul(p, &end, 10);
        if (errno || *num > 65535)
            return 0;
        p = end;
    }
    skip_blanks(&p);
    if (*p == ',') {
        p++;
        skip_blanks(&p);
    }
    if (*p++ != close)
        return 0;
    skip_blanks(&p);
    return *p == '\0';
}

/* --- usage --------------------------------------------------------------- */

static void print_help(void)
{
    sc_actor_config cfg;
    const sc_limits *d = &cfg.limits;

    sc_actor_config_default(&cfg);
    printf("Usage: " PROG " [OPTION]...\n"
           "Run one actor of the scwire reference runtime: it speaks the tractor " PROFILE "\n"
           "wire protocol over TCP, prints the address it listens on as HOST:PORT on the\n"
           "first line of standard output and logs to standard error.  SIGINT or SIGTERM\n"
           "shuts it down; a second one makes it exit at once.\n"
           "\n"
           "Identity and addresses:\n");
    printf("  --name NAME              actor name (default %s)\n", cfg.name);
    printf("  --uuid UUID              actor uuid, 8-4-4-4-12 hex digits (default: a fresh uuid4)\n"
           "  --listen HOST:PORT       listen there; [ADDRESS]:PORT for IPv6, port 0 picks a\n"
           "                           free one (default " DEFAULT_LISTEN ")\n"
           "  --registry HOST:PORT     register with that registry on start and unregister on\n"
           "                           exit (default: none)\n"
           "  --registry-role          be a registry: serve register_actor, find_actor, ...\n"
           "                           (default: off)\n"
           "  --max-registry N         most entries of the registry role, itself included;\n"
           "                           a new uid beyond them is refused (default %u)\n"
           "  --advertise HOST:PORT    the address to publish instead of the bound one: in\n"
           "                           registrations and to children (default: the bound one;\n"
           "                           for a relay such as scwire-tap in front of the actor)\n"
           "\n"
           "Child mode (how a parent starts a child actor, as tractor's _child does):\n"
           "  --uid \"('NAME', 'UUID')\" the child's uid, as a Python tuple repr\n"
           "  --parent_addr \"('HOST', PORT)\"\n"
           "                           connect to the parent there, take its init map, listen\n"
           "                           where it says, and exit when the parent's channel ends;\n"
           "                           no --listen, and nothing on standard output\n"
           "\n"
           "Supervision:\n", d->max_registry);
    printf("  --max-children N         processes of the whole tree below this actor at once:\n"
           "                           each child counts 1 and its share; 0 for none (default %u)\n"
           "  --child-budget N         the share: how many processes each child may start below\n"
           "                           it, handed to it as its --max-children (default 0)\n"
           "  --cancel-timeout S       wait for a child's self.cancel answer (default %g)\n"
           "  --kill-grace S           from cancelling a child to SIGTERM, and from SIGTERM to\n"
           "                           SIGKILL (default %g)\n"
           "  --child-program PATH     start children with that program (another implementation,\n"
           "                           such as a tractor child) instead of this one; it gets\n"
           "                           the --child-arg words, then --uid and --parent_addr, and\n"
           "                           none of this program's flags (default: this program)\n"
           "  --child-arg ARG          a word before --uid on the child's command line, such as\n"
           "                           the script of an interpreter; repeat for more (at most %d)\n"
           "\n"
           "Protocol:\n", DEFAULT_MAX_CHILDREN, cfg.cancel_timeout, cfg.kill_grace,
           CHILD_ARGS_MAX);
    printf("  --codec CODEC            msgpack or lenprefix (default %s)\n"
           "  --profile PROFILE        protocol profile; only " PROFILE " (default " PROFILE ")\n"
           "  --loglevel LEVEL         transport, debug, runtime, cancel, info, warning, error\n"
           "                           or critical, any case (default %s)\n"
           "\n"
           "Limits (spec/limits.md):\n",
           sc_codec_name(cfg.codec), sc_loglevel_name(cfg.loglevel));
    printf("  --msg-buffer-size N      per-context receive buffer, messages (default %u)\n"
           "  --max-frame N            largest message, bytes (default %zu)\n"
           "  --max-depth N            deepest nesting, 1..%d levels (default %u)\n"
           "  --max-str N              longest str, bin or ext, bytes (default %lu)\n"
           "  --max-entries N          most entries in one array or map (default %lu)\n"
           "  --max-contexts N         live contexts per channel (default %u)\n"
           "  --max-conns N            open inbound connections (default %u)\n"
           "  --handshake-timeout S    seconds for the peer's uid to arrive (default %g)\n"
           "  --max-outbuf N           unsent output per connection before reading pauses,\n"
           "                           bytes, at least --max-frame (default %zu)\n",
           d->msg_buffer_size, d->max_frame, SC_DEPTH_CAP, d->max_depth,
           (unsigned long)d->max_str, (unsigned long)d->max_entries, d->max_contexts,
           d->max_conns, d->handshake_timeout, d->max_outbuf);
    printf("\n"
           "Hardening bounds (spec/limits.md):\n"
           "  --max-conn-bytes N       bytes kept on one connection's account: its contexts and\n"
           "                           the queued messages it sent (default %zu)\n"
           "  --max-total-bytes N      bytes kept for all peers together (default %zu)\n"
           "  --max-conns-per-addr N   open inbound connections from one address (default: half\n"
           "                           of --max-conns, at least 64 or --max-conns)\n"
           "  --idle-timeout S         close a connection with no message for S seconds after\n"
           "                           its handshake; 0 for never (default 0)\n"
           "  --message-timeout S      close a connection whose begun message is not whole\n"
           "                           within S seconds; 0 for never (default %g)\n",
           d->max_conn_bytes, d->max_total_bytes, d->message_timeout);
    printf("\n"
           "  --help                   print this text and exit\n"
           "  --version                print the version and exit\n"
           "\n"
           "Exit status: 0 after an orderly shutdown (a signal, a remote self.cancel, or in\n"
           "child mode nil from the parent), 1 when the runtime fails, a second signal\n"
           "arrives or a child loses its parent otherwise, 2 for a bad command line.\n");
}

/* --- the listener -------------------------------------------------------- */

/* Bind and listen on host:port; print the bound address and leave its
 * numeric form in bound_host and *bound_port. */
static int open_listener(const char *arg, const char *host, uint16_t port, char *bound_host,
                         size_t bound_sz, uint16_t *bound_port)
{
    char why[160];
    int fd = sc_loop_listen(host, port, bound_host, bound_sz, bound_port, why, sizeof(why));
    if (fd < 0)
        cli_fatal("cannot listen on %s: %s", arg, why);
    if (strchr(bound_host, ':'))
        printf("[%s]:%u\n", bound_host, (unsigned)*bound_port);
    else
        printf("%s:%u\n", bound_host, (unsigned)*bound_port);
    fflush(stdout);
    return fd;
}

/* --- main ---------------------------------------------------------------- */

enum {
    OPT_NAME = 256, OPT_UUID, OPT_LISTEN, OPT_REGISTRY, OPT_REGISTRY_ROLE, OPT_CODEC,
    OPT_PROFILE, OPT_LOGLEVEL, OPT_MSG_BUFFER_SIZE, OPT_MAX_FRAME, OPT_MAX_DEPTH, OPT_MAX_STR,
    OPT_MAX_ENTRIES, OPT_MAX_CONTEXTS, OPT_MAX_CONNS, OPT_HANDSHAKE_TIMEOUT, OPT_MAX_OUTBUF,
    OPT_MAX_CONN_BYTES, OPT_MAX_TOTAL_BYTES, OPT_MAX_CONNS_PER_ADDR, OPT_IDLE_TIMEOUT,
    OPT_MESSAGE_TIMEOUT,
    OPT_UID, OPT_PARENT_ADDR, OPT_MAX_CHILDREN, OPT_CHILD_BUDGET, OPT_CANCEL_TIMEOUT, OPT_KILL_GRACE, OPT_ADVERTISE,
    OPT_CHILD_PROGRAM, OPT_CHILD_ARG,
    OPT_MAX_REGISTRY, OPT_HELP, OPT_VERSION
};

static const struct option long_options[] = {
    { "name", required_argument, NULL, OPT_NAME },
    { "uuid", required_argument, NULL, OPT_UUID },
    { "listen", required_argument, NULL, OPT_LISTEN },
    { "registry", required_argument, NULL, OPT_REGISTRY },
    { "registry-role", no_argument, NULL, OPT_REGISTRY_ROLE },
    { "max-registry", required_argument, NULL, OPT_MAX_REGISTRY },
    { "codec", required_argument, NULL, OPT_CODEC },
    { "profile", required_argument, NULL, OPT_PROFILE },
    { "loglevel", required_argument, NULL, OPT_LOGLEVEL },
    { "msg-buffer-size", required_argument, NULL, OPT_MSG_BUFFER_SIZE },
    { "max-frame", required_argument, NULL, OPT_MAX_FRAME },
    { "max-depth", required_argument, NULL, OPT_MAX_DEPTH },
    { "max-str", required_argument, NULL, OPT_MAX_STR },
    { "max-entries", required_argument, NULL, OPT_MAX_ENTRIES },
    { "max-contexts", required_argument, NULL, OPT_MAX_CONTEXTS },
    { "max-conns", required_argument, NULL, OPT_MAX_CONNS },
    { "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT },
    { "max-outbuf", required_argument, NULL, OPT_MAX_OUTBUF },
    { "max-conn-bytes", required_argument, NULL, OPT_MAX_CONN_BYTES },
    { "max-total-bytes", required_argument, NULL, OPT_MAX_TOTAL_BYTES },
    { "max-conns-per-addr", required_argument, NULL, OPT_MAX_CONNS_PER_ADDR },
    { "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
    { "message-timeout", required_argument, NULL, OPT_MESSAGE_TIMEOUT },
    { "uid", required_argument, NULL, OPT_UID },
    { "parent_addr", required_argument, NULL, OPT_PARENT_ADDR },
    { "max-children", required_argument, NULL, OPT_MAX_CHILDREN },
    { "child-budget", required_argument, NULL, OPT_CHILD_BUDGET },
    { "cancel-timeout", required_argument, NULL, OPT_CANCEL_TIMEOUT },
    { "kill-grace", required_argument, NULL, OPT_KILL_GRACE },
    { "child-program", required_argument, NULL, OPT_CHILD_PROGRAM },
    { "child-arg", required_argument, NULL, OPT_CHILD_ARG },
    { "advertise", required_argument, NULL, OPT_ADVERTISE },
    { "help", no_argument, NULL, OPT_HELP },
    { "version", no_argument, NULL, OPT_VERSION },
    { NULL, 0, NULL, 0 }
};

/* A number of seconds, or 0 for a bound that is off. */
static double seconds_or_never(const char *opt, const char *s)
{
    return strcmp(s, "0") == 0 ? 0.0 : cli_parse_seconds(opt, s);
}

/* The flags a child inherits: limits and supervision settings as given. */
static int inherited(int opt)
{
    switch (opt) {
    case OPT_PROFILE: case OPT_MSG_BUFFER_SIZE: case OPT_MAX_FRAME: case OPT_MAX_DEPTH:
    case OPT_MAX_STR: case OPT_MAX_ENTRIES: case OPT_MAX_CONTEXTS: case OPT_MAX_CONNS:
    case OPT_HANDSHAKE_TIMEOUT: case OPT_MAX_OUTBUF: case OPT_CHILD_BUDGET:
    case OPT_MAX_CONN_BYTES: case OPT_MAX_TOTAL_BYTES: case OPT_MAX_CONNS_PER_ADDR:
    case OPT_IDLE_TIMEOUT: case OPT_MESSAGE_TIMEOUT:
    case OPT_CANCEL_TIMEOUT: case OPT_KILL_GRACE:
        return 1;
    default:
        return 0;
    }
}

int main(int argc, char **argv)
{
    sc_actor_config cfg;
    sc_actor_callbacks cb;
    sc_loop_opts lopts;
    sc_actor *a;
    sc_err err;
    logger lg;
    char uuid[37] = "", listen_host[256], registry_host[HOST_MAX + 1];
    char bound_host[INET6_ADDRSTRLEN];
    char child_name[256], child_uuid[64], parent_host[HOST_MAX + 1], exe_path[4096];
    char advertise_host[HOST_MAX + 1];
    uint16_t advertise_port = 0;
    int advertise = 0;
    char *inherit[INHERIT_MAX + 5];
    char *child_lead[CHILD_ARGS_MAX + 1];
    const char *child_program = NULL;
    int nlead = 0;
    const char *listen_arg = NULL;
    uint16_t listen_port;
    unsigned long parent_port = 0;
    sigset_t sigs;
    int opt, li, fd = -1, rc, status, ninherit = 0, child_mode = 0, have_parent = 0;
    int identity_flags = 0;
    ssize_t n;

    cli_prog = PROG;
    /* One write(2) per log line, so that a line stays whole when stderr is
     * shared with other processes (a test runner, a supervisor). */
    setvbuf(stderr, NULL, _IOLBF, 0);
    /* A secret hash key per process, so that no peer can pick keys that
     * collide in the actor's tables. */
    uint8_t hash_key[16];
    fill_random(NULL, hash_key, sizeof(hash_key));
    sc_hash_set_key(hash_key);

    sc_actor_config_default(&cfg);
    cfg.verify_children = 1;
    cfg.max_children = DEFAULT_MAX_CHILDREN;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", long_options, &li)) != -1) {
        if (inherited(opt) && ninherit + 2 <= INHERIT_MAX) {
            static char dashed[INHERIT_MAX / 2][32];
            char *flag = dashed[ninherit / 2];
            snprintf(flag, sizeof(dashed[0]), "--%s", long_options[li].name);
            inherit[ninherit++] = flag;
            inherit[ninherit++] = optarg;
        }
        switch (opt) {
        case OPT_NAME:
            if (optarg[0] == '\0')
                cli_usage_error("--name: the name is empty");
            cfg.name = optarg;
            identity_flags = 1;
            break;
        case OPT_UUID:
            parse_uuid(optarg, uuid);
            identity_flags = 1;
            break;
        case OPT_LISTEN:
            listen_arg = optarg;
            break;
        case OPT_REGISTRY:
            parse_hostport("--registry", optarg, registry_host, sizeof(registry_host),
                           &cfg.registry_port, 1);
            cfg.registry_host = registry_host;
            break;
        case OPT_REGISTRY_ROLE:
            cfg.registry_role = 1;
            break;
        case OPT_UID:
            if (!py_pair(optarg, child_name, sizeof(child_name), 1, child_uuid, sizeof(child_uuid),
                         NULL) || child_name[0] == '\0')
                cli_usage_error("--uid: '%s' is not a Python tuple ('name', 'uuid') of two str", optarg);
            if (strlen(child_uuid) > 36)
                cli_usage_error("--uid: the uuid '%s' is longer than 36 characters", child_uuid);
            child_mode = 1;
            break;
        case OPT_PARENT_ADDR:
            if (!py_pair(optarg, parent_host, sizeof(parent_host), 0, NULL, 0, &parent_port) ||
                parent_host[0] == '\0' || parent_port == 0)
                cli_usage_error("--parent_addr: '%s' is not a Python tuple ('host', port)", optarg);
            have_parent = 1;
            break;
        case OPT_ADVERTISE:
            parse_hostport("--advertise", optarg, advertise_host, sizeof(advertise_host),
                           &advertise_port, 1);
            advertise = 1;
            break;
        case OPT_MAX_CHILDREN:
            cfg.max_children = (unsigned)cli_parse_count("--max-children", optarg, 0, 4096);
            break;
        case OPT_CHILD_BUDGET:
            cfg.child_budget = (unsigned)cli_parse_count("--child-budget", optarg, 0, 4096);
            break;
        case OPT_CANCEL_TIMEOUT:
            cfg.cancel_timeout = cli_parse_seconds("--cancel-timeout", optarg);
            break;
        case OPT_KILL_GRACE:
            cfg.kill_grace = cli_parse_seconds("--kill-grace", optarg);
            break;
        case OPT_CHILD_PROGRAM:
            /* Checked here: after the fork only the child's exit status
             * would tell that the program cannot run. */
            if (!strchr(optarg, '/'))
                cli_usage_error("--child-program: give the program's path, such as "
                                "/usr/bin/python3, not '%s'", optarg);
            if (access(optarg, X_OK) != 0)
                cli_usage_error("--child-program: cannot run '%s': %s", optarg, strerror(errno));
            child_program = optarg;
            break;
        case OPT_CHILD_ARG:
            if (nlead == CHILD_ARGS_MAX)
                cli_usage_error("--child-arg: more than %d of them", CHILD_ARGS_MAX);
            child_lead[nlead++] = optarg;
            break;
        case OPT_CODEC:
            if (sc_codec_parse(optarg, &cfg.codec) != SC_OK)
                cli_usage_error("--codec: unknown codec '%s' (msgpack or lenprefix)", optarg);
            break;
        case OPT_PROFILE:
            if (strcmp(optarg, PROFILE) != 0)
                cli_usage_error("--profile: unsupported profile '%s' (only " PROFILE ")", optarg);
            break;
        case OPT_LOGLEVEL:
            if (sc_loglevel_parse(optarg, &cfg.loglevel) != SC_OK)
                cli_usage_error("--loglevel: unknown level '%s' (transport, debug, runtime, cancel, "
                            "info, warning, error or critical)", optarg);
            break;
        case OPT_MSG_BUFFER_SIZE:
            cfg.limits.msg_buffer_size =
                (unsigned)cli_parse_count("--msg-buffer-size", optarg, 1, UINT_MAX);
            break;
        case OPT_MAX_FRAME:
            /* A lenprefix header cannot announce more. */
            cfg.limits.max_frame = (size_t)cli_parse_count("--max-frame", optarg, 1, UINT32_MAX);
            break;
        case OPT_MAX_DEPTH:
            cfg.limits.max_depth = (unsigned)cli_parse_count("--max-depth", optarg, 1, SC_DEPTH_CAP);
            break;
        case OPT_MAX_STR:
            cfg.limits.max_str = (uint32_t)cli_parse_count("--max-str", optarg, 1, UINT32_MAX);
            break;
        case OPT_MAX_ENTRIES:
            cfg.limits.max_entries = (uint32_t)cli_parse_count("--max-entries", optarg, 1, UINT32_MAX);
            break;
        case OPT_MAX_CONTEXTS:
            cfg.limits.max_contexts = (unsigned)cli_parse_count("--max-contexts", optarg, 1, UINT_MAX);
            break;
        case OPT_MAX_CONNS:
            cfg.limits.max_conns = (unsigned)cli_parse_count("--max-conns", optarg, 1, UINT_MAX);
            break;
        case OPT_HANDSHAKE_TIMEOUT:
            cfg.limits.handshake_timeout = cli_parse_seconds("--handshake-timeout", optarg);
            break;
        case OPT_MAX_CONN_BYTES:
            cfg.limits.max_conn_bytes =
                (size_t)cli_parse_count("--max-conn-bytes", optarg, 1u << 20, SIZE_MAX);
            break;
        case OPT_MAX_TOTAL_BYTES:
            cfg.limits.max_total_bytes =
                (size_t)cli_parse_count("--max-total-bytes", optarg, 1u << 20, SIZE_MAX);
            break;
        case OPT_MAX_CONNS_PER_ADDR:
            cfg.limits.max_conns_per_addr =
                (unsigned)cli_parse_count("--max-conns-per-addr", optarg, 1, UINT_MAX);
            break;
        case OPT_IDLE_TIMEOUT:
            cfg.limits.idle_timeout = seconds_or_never("--idle-timeout", optarg);
            break;
        case OPT_MESSAGE_TIMEOUT:
            cfg.limits.message_timeout = seconds_or_never("--message-timeout", optarg);
            break;
        case OPT_MAX_OUTBUF:
            cfg.limits.max_outbuf = (size_t)cli_parse_count("--max-outbuf", optarg, 1, SIZE_MAX);
            break;
        case OPT_MAX_REGISTRY:
            cfg.limits.max_registry = (unsigned)cli_parse_count("--max-registry", optarg, 1, UINT_MAX);
            break;
        case OPT_HELP:
            print_help();
            return 0;
        case OPT_VERSION:
            puts(VERSION_LINE);
            return 0;
        default:
            cli_bad_option(opt, OPT_NAME, argv);
        }
    }
    if (optind < argc)
        cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (child_mode != have_parent)
        cli_usage_error("--uid and --parent_addr go together (child mode)");
    if (child_mode && (listen_arg || cfg.registry_host || cfg.registry_role || identity_flags ||
                       advertise))
        cli_usage_error("child mode takes its identity from --uid and its addresses from the parent: "
                    "no --listen, --advertise, --registry, --registry-role, --name or --uuid");
    if (!listen_arg)
        listen_arg = DEFAULT_LISTEN;
    parse_hostport("--listen", listen_arg, listen_host, sizeof(listen_host), &listen_port, 0);
    /* spec/limits.md: the output bound is at least one whole message. */
    if (cfg.limits.max_outbuf < cfg.limits.max_frame)
        cli_usage_error("--max-outbuf: %zu is less than --max-frame (%zu)", cfg.limits.max_outbuf,
                    cfg.limits.max_frame);

    if (child_mode) {
        cfg.name = child_name;
        cfg.uuid = child_uuid;
        cfg.parent_host = parent_host;
        cfg.parent_port = (uint16_t)parent_port;
    } else {
        if (uuid[0] == '\0')
            make_uuid4(uuid);
        cfg.uuid = uuid;
    }

    /* Children run this same program, told the codec and log level. */
    n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
    exe_path[n > 0 ? n : 0] = '\0';
    cfg.exe_path = n > 0 ? exe_path : argv[0];
    inherit[ninherit++] = "--loglevel";
    inherit[ninherit++] = (char *)sc_loglevel_name(cfg.loglevel);
    inherit[ninherit++] = "--codec";
    inherit[ninherit++] = (char *)sc_codec_name(cfg.codec);
    inherit[ninherit] = NULL;
    /* The resolved path rather than /proc/self/exe, which under valgrind
     * names valgrind itself. */
    lopts.exe = n > 0 ? exe_path : "/proc/self/exe";
    lopts.argv0 = argv[0];
    lopts.lead_args = NULL;
    lopts.child_args = inherit;
    if (nlead && !child_program)
        cli_usage_error("--child-arg goes with --child-program");
    child_lead[nlead] = NULL;
    if (child_program) {
        /* Another implementation knows none of this program's flags. */
        lopts.exe = lopts.argv0 = child_program;
        lopts.lead_args = child_lead;
        lopts.child_args = NULL;
    }

    /* Whoever started us may signal as soon as it reads the address line;
     * hold SIGINT and SIGTERM until the loop can take them. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &sigs, NULL);

    if (!child_mode) {
        fd = open_listener(listen_arg, listen_host, listen_port, bound_host, sizeof(bound_host),
                           &cfg.listen_port);
        cfg.listen_host = bound_host;
        if (advertise) {
            cfg.listen_host = advertise_host;
            cfg.listen_port = advertise_port;
        }
    }

    lg.name = cfg.name;
    lg.level = cfg.loglevel;
    cb.log = log_line;
    cb.random = fill_random;
    sc_err_clear(&err);
    if (sc_actor_new(&cfg, &cb, &lg, &a, &err) != SC_OK)
        cli_fatal("cannot start the actor: %s", err.msg);
    rc = sc_actor_start(a, sc_loop_now());
    if (rc != SC_OK) {
        sc_actor_free(a);
        cli_fatal("cannot start the actor: %s", sc_rc_name(rc));
    }
    status = sc_loop_run(a, fd, &lopts, log_line, &lg);
    sc_actor_free(a);
    return status;
}
