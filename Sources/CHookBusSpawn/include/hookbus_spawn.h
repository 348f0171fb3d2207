/*
 * HookBus's process start: one clone and one execve per run, with the run's sandbox set up in
 * the child between the two (see spawn.c for why this is C, and confine.c for the sandbox).
 *
 * Everything a child needs is prepared by the caller (strings formatted, paths sorted): the
 * child shares HookBus's memory until its execve, so it only makes system calls.
 */
#ifndef HOOKBUS_SPAWN_H
#define HOOKBUS_SPAWN_H

#include <stdint.h>
#include <sys/types.h>

/* Rights a path is granted (Landlock access bits, narrowed to what the kernel handles). */
#define HB_RIGHTS_READ 0x0DULL      /* execute, read a file, read a folder */
#define HB_RIGHTS_ALL (~0ULL)       /* read, write, create, remove beneath it */
#define HB_RIGHTS_DEVICE 0xC006ULL  /* read and write a file, truncate, ioctl on a device */

/* One path a run may use. Paths are absolute and canonical (the child refuses any other). */
struct hb_grant {
    const char *path;
    uint64_t rights;
    int optional;           /* skipped when missing (a system file an upgrade removed) */
};

/* How a run is confined: the same for every run of one policy, so made once and shared. */
struct hb_confinement {
    int landlock_abi;                 /* 1 or more */
    const struct hb_grant *grants;    /* sorted by path length, shortest first */
    int grant_count;
    int proc_self;                    /* may read its own /proc/PID */
    const char *private_tmp_options;  /* tmpfs mount options of its own /tmp, or NULL */
    int no_network;                   /* a network namespace with no interface */
    int deny_tcp;                     /* no TCP connect or bind (Landlock) */
    int switch_user;                  /* started as root: become the request's run_uid and gid */
    gid_t gid;
    const char *uid_map;              /* "UID UID 1\n" for a user namespace (not root) */
    const char *gid_map;
    uint64_t memory, cpu_seconds, processes, file_size;  /* 0 = no limit */
};

/* A grant's path opened ahead (O_PATH) by HookBus, for the child to make its rule from. */
struct hb_opened_grant {
    int fd;                 /* -1: the child opens the path itself */
    int is_directory;
};

struct hb_spawn_request {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *directory;
    int stdin_fd, stdout_fd, stderr_fd;
    const struct hb_confinement *confinement;  /* NULL: not confined */
    const char *run_folder;                    /* granted all rights when confined */
    uid_t run_uid;                             /* root: the uid this run becomes (its own) */
    int mount_namespace;                       /* root, private /tmp: a namespace to join (its
                                                  /tmp ready for this run), or -1 to make one */
    const struct hb_opened_grant *opened;      /* NULL, or one per confinement grant (GrantCache) */
    int probe_only;                            /* exit 0 once confined, instead of exec'ing */
};

/* Starts a child in a session of its own. 0 and its pid and pidfd, or an errno value
 * (ETIMEDOUT: it did not get ready within 10 s and was killed and reaped). A sandbox
 * that cannot be set up, or a program that cannot be started, is not an error here: the child
 * says why on its stderr ("hookbus: …") and exits 125 or 127. */
int hb_spawn(const struct hb_spawn_request *request, pid_t *pid, int *pidfd);

/* What this kernel allows: the Landlock ABI (0 if none usable: rules cannot be made) and
 * whether a run's namespaces can be made (1) — tried as a run would, in a child. */
void hb_probe(int *landlock_abi, int *namespaces);

/* For a root HookBus: its memory non-dumpable from start (no core dump, /proc/PID/mem and the
 * like closed to other users). A run's child shares that memory until its execve, after it
 * has become the run user: without this, a process of that user could stop the child and read
 * HookBus's memory. 0 or an errno value; does nothing when not root. */
int hb_keep_memory_private(void);

/* Whether this process is dumpable (PR_GET_DUMPABLE): a non-root HookBus that is not (started
 * with file capabilities, say) cannot write its runs' user-namespace id maps. */
int hb_is_dumpable(void);

/* Sends SIGKILL to every process whose real, effective or saved uid is in [first, first +
 * count) and not one of `keep` (sweep.c), until a pass over /proc finds none. The number ended
 * (as found in the first pass), or -errno: /proc or a process's status could not be read, or
 * -EAGAIN when processes were still found after 64 passes. */
int hb_sweep_uids(uint32_t first, uint32_t count, const uint32_t *keep, int keep_count);

/* Opens a grant's path as a child would (O_PATH, no symbolic link on the way): the descriptor
 * (close-on-exec) and whether it is a folder, or -errno. */
int hb_open_grant(const char *path, int *is_directory);

/* A mount namespace whose /tmp is a fresh tmpfs of `options`, for runs to join in turn
 * (tmpslot.c): its descriptor and one of its /tmp. Root only. 0 or an errno value. */
int hb_tmp_slot_make(const char *options, int *namespace_fd, int *tmp_fd);

/* Hands a namespace's /tmp (open as `tmp_fd`) to a run: owned by `uid` and `gid`, mode 0700,
 * then checked. 1 when it is ready (empty, no extended attribute), 0 when it is not fit to be
 * used again, or -errno. */
int hb_tmp_slot_hand(int tmp_fd, uid_t uid, gid_t gid);

/* 1 when the folder open as `fd` has no entries, 0 when it has, or -errno. */
int hb_folder_is_empty(int fd);

/* For a root HookBus, once a run is over: ends every process whose real or saved uid is the
 * run's own `uid` (sweep.c) — those that left its process group too — with one kill(-1) made as
 * that uid from the calling thread, which takes root back at once. 0 or an errno value. */
int hb_end_processes_of(uid_t uid);

/* A pipe whose ends are close-on-exec, the reading end non-blocking. 0 or an errno value. */
int hb_pipe(int ends[2]);

/* Exit status of a child that has ended (pidfd readable): its exit code, or the signal that
 * ended it (then *signal > 0). `reap` 0 leaves it a zombie (its pid and process group stay
 * reserved), 1 reaps it. 0 or an errno value. */
int hb_wait_status(int pidfd, int reap, int *exit_code, int *signal);

/* epoll, for the thread that collects runs' output and ends. A close-on-exec set, or -errno. */
int hb_epoll_create(void);
int hb_epoll_add(int epoll_fd, int fd, uint64_t token);
int hb_epoll_remove(int epoll_fd, int fd);
/* Waits for events, at most `timeout_ms` (-1: no limit): up to `capacity` tokens with their
 * event masks. The count (0 at the timeout), or -errno. */
int hb_epoll_wait(int epoll_fd, uint64_t *tokens, uint32_t *events, int capacity, int timeout_ms);

#endif
