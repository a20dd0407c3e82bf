/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* soak_proc.c - the target's resident memory and open descriptors, sampled
 * from /proc while the load runs (--pid), for the peak figures of the
 * report.  A target that is gone or not ours to read gives -1, reported as
 * unknown rather than as zero. */
#include "soak.h"

#include <dirent.h>
#include <stdio.h>

#define PROC_INTERVAL 0.5

static long proc_fds(long pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    long n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void keep_peak(long v, long *first, long *peak, long *last)
{
    if (v < 0)
        return;
    if (*first < 0)
        *first = v;
    if (v > *peak)
        *peak = v;
    *last = v;
}

void soak_proc_sample(soak *S)
{
    if (S->o.pid <= 0)
        return;
    keep_peak(bench_proc_kb(S->o.pid, "VmRSS"), &S->rss_kb_first, &S->rss_kb_peak, &S->rss_kb_last);
    keep_peak(proc_fds(S->o.pid), &S->fds_first, &S->fds_peak, &S->fds_last);
}

static void on_proc_timer(struct ev_loop *ev, ev_timer *w, int revents)
{
    (void)ev;
    (void)revents;
    soak_proc_sample(w->data);
}

void soak_proc_start(soak *S)
{
    S->rss_kb_first = S->rss_kb_peak = S->rss_kb_last = -1;
    S->fds_first = S->fds_peak = S->fds_last = -1;
    if (S->o.pid <= 0)
        return;
    soak_proc_sample(S);
    ev_timer_init(&S->proc_timer, on_proc_timer, PROC_INTERVAL, PROC_INTERVAL);
    S->proc_timer.data = S;
    ev_timer_start(S->ev, &S->proc_timer);
}
