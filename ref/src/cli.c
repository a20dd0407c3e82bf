/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* cli.c - command-line helpers shared by the project's programs (cli.h). */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

const char *cli_prog = "scwire";

static void vreport(const char *fmt, va_list ap, const char *tail)
{
    fprintf(stderr, "%s: ", cli_prog);
    vfprintf(stderr, fmt, ap);
    fputs(tail, stderr);
}

_Noreturn void cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(fmt, ap, "; see --help\n");
    va_end(ap);
    exit(2);
}

_Noreturn void cli_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(fmt, ap, "\n");
    va_end(ap);
    exit(1);
}

_Noreturn void cli_bad_option(int opt, int first_long_id, char *const argv[])
{
    if (opt == ':')
        cli_usage_error("option '%s' needs a value", argv[optind - 1]);
    /* getopt_long leaves the option's id in optopt when a value was given
     * to a flag that takes none. */
    if (optopt >= first_long_id)
        cli_usage_error("option '%s' takes no value", argv[optind - 1]);
    if (optopt > 0)
        cli_usage_error("unknown option '-%c'", optopt);
    cli_usage_error("unknown option '%s'", argv[optind - 1]);
}

unsigned long long cli_parse_count(const char *opt, const char *s, unsigned long long min,
                                   unsigned long long max)
{
    unsigned long long v;
    char *end;
    /* strtoull alone would take " 7", "+7" and "-1" (as a huge number). */
    if (!isdigit((unsigned char)s[0]))
        cli_usage_error("%s: '%s' is not a whole number", opt, s);
    errno = 0;
    v = strtoull(s, &end, 10);
    if (*end != '\0')
        cli_usage_error("%s: '%s' is not a whole number", opt, s);
    if (errno == ERANGE || v < min || v > max)
        cli_usage_error("%s: %s is out of range %llu..%llu", opt, s, min, max);
    return v;
}

double cli_parse_seconds(const char *opt, const char *s)
{
    double v;
    char *end;
    /* strtod alone would take "inf", "nan", hex and leading blanks. */
    if (!isdigit((unsigned char)s[0]) && s[0] != '.')
        cli_usage_error("%s: '%s' is not a number of seconds", opt, s);
    errno = 0;
    v = strtod(s, &end);
    if (*end != '\0' || end == s)
        cli_usage_error("%s: '%s' is not a number of seconds", opt, s);
    if (errno == ERANGE || !(v > 0.0) || v > 86400.0)
        cli_usage_error("%s: %s is out of range (0, 86400] seconds", opt, s);
    return v;
}
