/*
 * Ending the processes runs left behind under their uids (RunUIDs.swift): a daemon that left
 * its run's process group keeps the run's uid after the run, and must be gone before that uid
 * is handed to another run. Runs in HookBus's own process (not in a child), so it may allocate.
 *
 * Each process is found in /proc by its uids and ended through a pidfd taken before its uids
 * are read again: the signal reaches the process whose uids were read, never one that took its
 * pid meanwhile.
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

/* How many passes over /proc before giving up on processes that keep appearing. */
#define MAX_PASSES 64

#define FOUND 0
#define GONE 1

/* Whether the process has more than its main thread: one whose main thread ended (a zombie to
 * /proc) while others run is alive. */
static int has_other_threads(const char *pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/task", pid);
    DIR *tasks = opendir(path);
    if (!tasks) return 0;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(tasks))) if (isdigit((unsigned char)entry->d_name[0])) count++;
    closedir(tasks);
    return count > 1;
}

/* The real, effective and saved uids of `pid` (its status file's "Uid:" line): FOUND, GONE
 * when it has ended or is a zombie with no thread left (it runs nothing more, and is its
 * parent's to reap), or -errno when it cannot be read. */
static int read_uids(const char *pid, unsigned long long uids[3]) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/status", pid);
    FILE *status = fopen(path, "re");
    if (!status) return errno == ENOENT || errno == ESRCH ? GONE : -errno;
    char line[256];
    int result = GONE, zombie = 0;
    while (fgets(line, sizeof line, status)) {
        if (strncmp(line, "State:", 6) == 0 && strchr(line, 'Z')) zombie = 1;
        if (strncmp(line, "Uid:", 4) == 0) {
            result = sscanf(line + 4, "%llu %llu %llu", &uids[0], &uids[1], &uids[2]) == 3 ? FOUND : -EIO;
            break;
        }
    }
    fclose(status);
    if (result == FOUND && zombie && !has_other_threads(pid)) return GONE;
    return result;
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

/* Ends one process if it is left behind: 1 when signalled, 0 when not (or gone), or -errno. */
static int end_if_left_behind(const char *pid, uint32_t first, uint32_t count, const uint32_t *keep, int keep_count) {
    unsigned long long uids[3];
    int read = read_uids(pid, uids);
    if (read != FOUND) return read == GONE ? 0 : read;
    if (!is_left_behind(uids, first, count, keep, keep_count)) return 0;
    int pidfd = (int)syscall(SYS_pidfd_open, atoi(pid), 0);
    if (pidfd < 0) return errno == ESRCH ? 0 : -errno;
    /* Read again now that the pidfd names this very process: the pid may have been reused by
     * another between the first read and the pidfd. */
    int result = 0;
    read = read_uids(pid, uids);
    if (read < 0) {
        result = read;
    } else if (read == FOUND && is_left_behind(uids, first, count, keep, keep_count)) {
        if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) == 0) result = 1;
        else if (errno != ESRCH) result = -errno;
    }
    close(pidfd);
    return result;
}

int hb_sweep_uids(uint32_t first, uint32_t count, const uint32_t *keep, int keep_count) {
    int ended = 0;
    /* Passes until one finds none: a process that forks while it is being ended adds another
     * (its process limit bounds that), and one already signalled is found again until it is
     * gone. */
    for (int pass = 0; pass < MAX_PASSES; pass++) {
        DIR *proc = opendir("/proc");
        if (!proc) return -errno;
        int found = 0;
        struct dirent *entry;
        while ((entry = readdir(proc))) {
            if (!isdigit((unsigned char)entry->d_name[0])) continue;
            int result = end_if_left_behind(entry->d_name, first, count, keep, keep_count);
            if (result < 0) {
                closedir(proc);
                return result;
            }
            found += result;
        }
        closedir(proc);
        if (found == 0) return ended;
        /* (Counted once each: only the first pass's are new.) */
        if (pass == 0) ended = found;
    }
    return -EAGAIN;
}

int hb_end_processes_of(uid_t uid) {
    if (uid == 0) return EINVAL;
    /* Raw system calls: they change this thread's ids only (glibc would change every thread's).
     * The saved uid stays 0, so root can be taken back; meanwhile this thread holds no
     * effective capability, so the kill reaches exactly the processes `uid` may signal. */
    if (syscall(SYS_setresuid, uid, uid, 0) != 0) return errno;
    int error = syscall(SYS_kill, -1, SIGKILL) == 0 ? 0 : errno;
    /* (Cannot fail: the saved uid is 0. A thread of HookBus left as another user would be
     * worse than stopping.) */
    if (syscall(SYS_setresuid, 0, 0, 0) != 0) abort();
    return error == ESRCH ? 0 : error;
}
