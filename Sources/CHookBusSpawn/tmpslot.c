/*
 * Mount namespaces with a private /tmp that runs take in turn, one run at a time (TmpSlots.swift).
 *
 * Why: a mount namespace made and torn down for every run cost 15–25% of bash's start rate
 * here (README, "The sandbox's cost"), and making them ahead of time on other threads only moved
 * that work. A namespace kept for the next run costs its child one setns. What keeps runs apart
 * instead of a fresh namespace each is done by HookBus between runs: the /tmp is handed to the
 * next run's uid (mode 0700) before anything else, and only a /tmp found empty is used again.
 *
 * Runs in HookBus's own process (not in a child), so it may allocate.
 */
#define _GNU_SOURCE
#include "hookbus_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

struct making {
    const char *options;
    int namespace_fd, tmp_fd, error;
};

/* On a thread of its own, which alone moves into the new namespace (unshare affects the calling
 * thread; it ends afterwards, and the namespace lives on through its descriptor). */
static void *make(void *argument) {
    struct making *m = argument;
    if (unshare(CLONE_NEWNS) != 0) { m->error = errno; return NULL; }
    /* A slave of the host's mounts: what is mounted there later appears here too, and nothing
     * mounted here goes back. */
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) { m->error = errno; return NULL; }
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, m->options) != 0) { m->error = errno; return NULL; }
    m->namespace_fd = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (m->namespace_fd < 0) { m->error = errno; return NULL; }
    m->tmp_fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (m->tmp_fd < 0) {
        m->error = errno;
        close(m->namespace_fd);
        m->namespace_fd = -1;
    }
    return NULL;
}

int hb_tmp_slot_make(const char *options, int *namespace_fd, int *tmp_fd) {
    struct making m = { .options = options, .namespace_fd = -1, .tmp_fd = -1, .error = 0 };
    pthread_t thread;
    int error = pthread_create(&thread, NULL, make, &m);
    if (error != 0) return error;
    pthread_join(thread, NULL);
    if (m.error != 0) return m.error;
    *namespace_fd = m.namespace_fd;
    *tmp_fd = m.tmp_fd;
    return 0;
}

int hb_tmp_slot_hand(int tmp_fd, uid_t uid, gid_t gid) {
    /* To the run's uid alone first: from then on nothing else can add anything there. */
    if (fchown(tmp_fd, uid, gid) != 0 || fchmod(tmp_fd, 0700) != 0) return -errno;
    /* An extended attribute an earlier run set on it (a default ACL would give its uid rights
     * to what the next run creates) makes it unfit, as does anything left in it. The security
     * module's own (security.selinux, say) are the kernel's, not a run's. */
    char names[4096];
    ssize_t length = flistxattr(tmp_fd, names, sizeof names);
    if (length < 0) {
        if (errno == ERANGE) return 0;
        if (errno != ENOTSUP) return -errno;
        length = 0;
    }
    for (ssize_t offset = 0; offset < length; offset += (ssize_t)strlen(names + offset) + 1) {
        if (strncmp(names + offset, "security.", 9) != 0) return 0;
    }
    return hb_folder_is_empty(tmp_fd);
}

int hb_folder_is_empty(int fd) {
    if (lseek(fd, 0, SEEK_SET) < 0) return -errno;
    char buffer[1024] __attribute__((aligned(8)));
    long length = syscall(SYS_getdents64, fd, buffer, sizeof buffer);
    if (length < 0) return -errno;
    for (long offset = 0; offset < length; ) {
        /* struct linux_dirent64: d_ino, d_off, d_reclen, d_type, d_name */
        unsigned short size;
        memcpy(&size, buffer + offset + 16, sizeof size);
        const char *name = buffer + offset + 19;
        if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) return 0;
        offset += size;
    }
    /* A full buffer of only "." and ".." cannot be: what was read is the whole folder. */
    return 1;
}
