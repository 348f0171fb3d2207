/*
 * Ending the processes runs left behind under their uids (RunUIDs.swift): a daemon that left
 * its run's process group keeps the run's uid after the run, and must be gone before that uid
 * is handed to another run. Runs in HookBus's own process (not in a child), so it may allocate.
 *
 * Each process is found in /proc by its uids and ended through a pidfd taken before its uids
 * are read again: a pid that was reused meanwhile by a process of another user is never
 * signalled.
 */
#define _GNU_SOURCE
#include "hookbus_spawn.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The real, effective and saved uids of `pid` (its status file's "Uid:" line). 0, or -1 when it
 * is gone, unreadable or a zombie (which runs nothing more, and is its parent's to reap). */
static int read_uids(const char *pid, unsigned long long uids[3]) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/status", pid);
    FILE *status = fopen(path, "re");
    if (!status) return -1;
    char line[256];
    int found = -1;
    while (fgets(line, sizeof line, status)) {
        if (strncmp(line, "State:", 6) == 0 && (strchr(line, 'Z') || strchr(line, 'X'))) break;
        if (strncmp(line, "Uid:", 4) == 0) {
            found = sscanf(line + 4, "%llu %llu %llu", &uids[0], &uids[1], &uids[2]) == 3 ? 0 : -1;
            break;
        }
    }
    fclose(status);
    return found;
}

static int is_kept(unsigned long long uid, const uint32_t *keep, int keep_count) {
    for (int i = 0; i < keep_count; i++) if (keep[i] == uid) return 1;
    return 0;
}

/* Whether any of `uids` lies in [first, first + count) and is not one of `keep`. */
static int is_left_behind(const unsigned long long uids[3], uint32_t first, uint32_t count, const uint32_t *keep, int keep_count) {
    for (int i = 0; i < 3; i++) {
        if (uids[i] >= first && uids[i] - first < count && !is_kept(uids[i], keep, keep_count)) return 1;
    }
    return 0;
}

int hb_sweep_uids(uint32_t first, uint32_t count, const uint32_t *keep, int keep_count) {
    int ended = 0;
    /* A process that forks while it is being ended adds another; its process limit bounds that. */
    for (int pass = 0; pass < 64; pass++) {
        DIR *proc = opendir("/proc");
        if (!proc) return -errno;
        int found = 0;
        struct dirent *entry;
        while ((entry = readdir(proc))) {
            if (!isdigit((unsigned char)entry->d_name[0])) continue;
            unsigned long long uids[3];
            if (read_uids(entry->d_name, uids) != 0 || !is_left_behind(uids, first, count, keep, keep_count)) continue;
            int pidfd = (int)syscall(SYS_pidfd_open, atoi(entry->d_name), 0);
            if (pidfd < 0) continue;
            /* The same process still (the pidfd pins it): its uids read again. */
            if (read_uids(entry->d_name, uids) == 0 && is_left_behind(uids, first, count, keep, keep_count) &&
                syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) == 0) {
                found++;
            }
            close(pidfd);
        }
        closedir(proc);
        ended += found;
        if (found == 0) return ended;
    }
    return ended;
}
