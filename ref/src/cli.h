/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* cli.h - command-line helpers shared by the project's programs (scwire-ref,
 * scwire-tap, ...): one wording for bad flags and fatal errors, and flag
 * values parsed strictly, so that every program fails the same way: a line
 * "PROG: what is wrong" on stderr and exit status 2 (usage) or 1 (fatal). */
#ifndef SCWIRE_CLI_H
#define SCWIRE_CLI_H

/* The program name that starts every message; set it first thing in main. */
extern const char *cli_prog;

_Noreturn void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void cli_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The usage error for what getopt_long (with opterr 0 and a leading ':' in
 * its optstring) returned as opt instead of a known option: a missing value,
 * a value given to a flag that takes none (flag ids start at first_long_id),
 * or an unknown option. */
_Noreturn void cli_bad_option(int opt, int first_long_id, char *const argv[]);

/* A decimal whole number in [min, max], or a usage error naming opt. */
unsigned long long cli_parse_count(const char *opt, const char *s, unsigned long long min,
                                   unsigned long long max);
/* Seconds in (0, 86400], decimals allowed, or a usage error naming opt. */
double cli_parse_seconds(const char *opt, const char *s);

#endif
