/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* peercred.c - find the peer socket of a loopback connection in
 * /proc/net/tcp{,6} by its address pair, then look for that socket's inode
 * among a process's descriptors.  TCP has no SO_PEERCRED; this is the same
 * answer, read the way ss(8) and lsof read it. */
#include "peercred.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The kernel prints an address as the 32-bit words of its network-order
 * bytes, each read in host order, then the port. */
static void proc_addr(const struct sockaddr_storage *ss, char *out, size_t n)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        snprintf(out, n, "%08X:%04X", (unsigned)in->sin_addr.s_addr, ntohs(in->sin_port));
        return;
    }
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    uint32_t w[4];
    memcpy(w, &in6->sin6_addr, sizeof(w));
    snprintf(out, n, "%08X%08X%08X%08X:%04X", (unsigned)w[0], (unsigned)w[1], (unsigned)w[2],
             (unsigned)w[3], ntohs(in6->sin6_port));
}

/* The inode of the socket whose local end is `local` and remote end
 * `remote` in the table at path, or 0. */
static unsigned long find_inode(const char *path, const char *local, const char *remote)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    char line[512], l[64], r[64];
    unsigned long inode = 0, ino;
    while (!inode && fgets(line, sizeof(line), f)) {
        if (sscanf(line, " %*u: %63s %63s %*x %*s %*s %*s %*s %*s %lu", l, r, &ino) == 3 &&
            strcmp(l, local) == 0 && strcmp(r, remote) == 0)
            inode = ino;
    }
    fclose(f);
    return inode;
}

/* 1 if pid holds the socket, 0 if not, -1 if its descriptors cannot be read. */
static int holds_socket(int pid, const char *want)
{
    char path[64], link[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char fd_path[sizeof(path) + sizeof(e->d_name) + 1];
        snprintf(fd_path, sizeof(fd_path), "%s/%s", path, e->d_name);
        ssize_t n = readlink(fd_path, link, sizeof(link) - 1);
        if (n > 0) {
            link[n] = '\0';
            found = strcmp(link, want) == 0;
        }
    }
    closedir(d);
    return found;
}

/* pid itself, or a program it started without exec (a wrapper script). */
static int process_or_child_holds(int pid, const char *want)
{
    int own = holds_socket(pid, want);
    if (own != 0)
        return own;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    int child, found = 0;
    while (!found && fscanf(f, "%d", &child) == 1)
        found = holds_socket(child, want) == 1;
    fclose(f);
    return found;
}

int peercred_is_process(int fd, int pid)
{
    struct sockaddr_storage mine, theirs;
    socklen_t ml = sizeof(mine), tl = sizeof(theirs);
    if (getsockname(fd, (struct sockaddr *)&mine, &ml) != 0 ||
        getpeername(fd, (struct sockaddr *)&theirs, &tl) != 0 ||
        (mine.ss_family != AF_INET && mine.ss_family != AF_INET6))
        return -1;
    char local[64], remote[64];
    /* The peer's socket: its local end is our remote one. */
    proc_addr(&theirs, local, sizeof(local));
    proc_addr(&mine, remote, sizeof(remote));
    unsigned long inode =
        find_inode(mine.ss_family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6", local, remote);
    if (!inode)
        return -1;
    char want[48];
    snprintf(want, sizeof(want), "socket:[%lu]", inode);
    return process_or_child_holds(pid, want);
}
