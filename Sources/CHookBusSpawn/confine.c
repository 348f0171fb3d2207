/*
 * A run's sandbox, set up in the child between clone and execve (see spawn.c): namespaces and
 * a private /tmp, the run user, no_new_privs, Landlock and rlimits. Everything is kept by the
 * execve, so the interpreter starts confined. No memory is allocated and nothing is formatted
 * with stdio here: the child shares HookBus's memory until it execs.
 *
 * Landlock grants the system's programs and libraries read-only, the run folder read-write and
 * the few devices and /etc files a run needs (the policy is Sandbox.swift's); signals and
 * abstract sockets are scoped to the run (ABI 6). A uid of its own per run (as root; otherwise a
 * user namespace per run) makes the process limit count that run's processes only; a mount
 * namespace gives it a size-bounded /tmp of its own (as root, one that runs take in turn,
 * tmpslot.c); a network namespace with no interface implements `network: false`.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <linux/types.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Landlock's ABI as of version 7, declared here because distribution headers lag the kernel
 * (Debian 12's linux/landlock.h stops at version 2). */
struct ruleset_attr {
    __u64 handled_access_fs;
    __u64 handled_access_net;
    __u64 scoped;
};
struct path_beneath_attr {
    __u64 allowed_access;
    __s32 parent_fd;
} __attribute__((packed));

#define RULE_PATH_BENEATH 1
#define CREATE_RULESET_VERSION (1U << 0)
#define FS_EXECUTE (1ULL << 0)
#define FS_WRITE_FILE (1ULL << 1)
#define FS_READ_FILE (1ULL << 2)
#define FS_READ_DIR (1ULL << 3)
#define FS_TRUNCATE (1ULL << 14)
#define FS_IOCTL_DEV (1ULL << 15)
#define NET_BIND_TCP (1ULL << 0)
#define NET_CONNECT_TCP (1ULL << 1)
#define SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define SCOPE_SIGNAL (1ULL << 1)
/* Rights that apply to a file (the rest apply to folders only). */
#define FS_FILE_RIGHTS (FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV)

/* At most this many grants in one confinement (the child keeps their descriptors on its stack). */
#define MAX_GRANTS 1024

static void fail(const char *what, const char *path, int error) {
    hb_child_exit(HB_SETUP_FAILED, what, path, error);
}

static int landlock_abi(void) {
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, CREATE_RULESET_VERSION);
    return abi < 0 ? 0 : (int)abi;
}

/* Every file right this ABI knows: handled rights are denied unless a rule allows them. */
static __u64 handled_fs(int abi) {
    __u64 rights = (1ULL << 13) - 1;              /* version 1: execute … make_sym */
    if (abi >= 2) rights |= 1ULL << 13;           /* refer */
    if (abi >= 3) rights |= FS_TRUNCATE;
    if (abi >= 5) rights |= FS_IOCTL_DEV;
    return rights;
}

static void write_file(const char *path, const char *text) {
    int error = hb_write_text(path, text);
    if (error != 0) fail("write", path, error);
}

/* A user namespace in which this process keeps its own user and group ids. */
static void map_ids(const char *uid_map, const char *gid_map) {
    write_file("/proc/self/uid_map", uid_map);
    write_file("/proc/self/setgroups", "deny");
    write_file("/proc/self/gid_map", gid_map);
}

/* A path the run may use, opened (O_PATH) before any mount changes what a path names: the
 * Landlock rule is made from this descriptor, and a path under /tmp is bound from it into the
 * run's private /tmp. */
struct opened {
    const char *path;
    __u64 rights;
    int fd;
    int is_directory;
};

/* Whether `path` is absolute and canonical: no empty, `.` or `..` component, no trailing
 * slash, not `/` itself. HookBus passes real paths; anything else is refused rather than
 * interpreted (`/tmp/` would otherwise name the host's /tmp where the private one is meant). */
static int canonical(const char *path) {
    if (path[0] != '/' || path[1] == '\0') return 0;
    for (const char *part = path + 1; ; ) {
        const char *end = strchr(part, '/');
        size_t length = end ? (size_t)(end - part) : strlen(part);
        if (length == 0 || (length == 1 && part[0] == '.') || (length == 2 && part[0] == '.' && part[1] == '.')) return 0;
        if (!end) return 1;
        part = end + 1;
    }
}

/* Opens a path the run may use. No symbolic link may be on the way: a run that can write
 * somewhere must not be able to plant a link there that a later run's grant would follow.
 * 0 when an optional path is missing. */
static int open_grant(struct opened *slot, const char *path, __u64 rights, int optional) {
    if (!canonical(path)) fail("not a canonical absolute path:", path, EINVAL);
    struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
    if (fd < 0 && optional && errno == ENOENT) return 0;
    if (fd < 0) fail(errno == ELOOP ? "a symbolic link is on the way to" : "open", path, errno);
    struct stat status;
    if (fstat(fd, &status) != 0) fail("stat", path, errno);
    *slot = (struct opened){ .path = path, .rights = rights, .fd = fd, .is_directory = S_ISDIR(status.st_mode) };
    return 1;
}

int hb_open_grant(const char *path, int *is_directory) {
    if (!canonical(path)) return -EINVAL;
    struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
    if (fd < 0) return -errno;
    struct stat status;
    if (fstat(fd, &status) != 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    *is_directory = S_ISDIR(status.st_mode);
    return fd;
}

static void add_rule(int ruleset, const struct opened *grant, __u64 handled) {
    struct path_beneath_attr rule = { .allowed_access = grant->rights & handled, .parent_fd = grant->fd };
    if (!grant->is_directory) rule.allowed_access &= FS_FILE_RIGHTS;
    if (syscall(SYS_landlock_add_rule, ruleset, RULE_PATH_BENEATH, &rule, 0) != 0) fail("landlock rule for", grant->path, errno);
}

/* Whether `path` is beneath `folder` (or is it). */
static int beneath(const char *path, const char *folder) {
    size_t length = strlen(folder);
    return strncmp(path, folder, length) == 0 && (path[length] == '/' || path[length] == '\0');
}

/* Makes the grant's path (under the fresh /tmp) exist as a mount point of its kind, its
 * folders first, and binds the granted file or folder there. */
static void bind_into_tmp(const struct opened *grant) {
    char path[4096];
    size_t length = strlen(grant->path);
    if (length >= sizeof path) fail("path too long:", grant->path, ENAMETOOLONG);
    memcpy(path, grant->path, length + 1);
    for (char *slash = strchr(path + 5, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) fail("mkdir", path, errno);
        *slash = '/';
    }
    if (grant->is_directory) {
        if (mkdir(path, 0755) != 0 && errno != EEXIST) fail("mkdir", path, errno);
    } else {
        int file = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (file < 0) fail("create", path, errno);
        close(file);
    }
    char source[48] = "/proc/self/fd/";
    hb_decimal((unsigned long long)grant->fd, source + strlen(source));
    if (mount(source, path, NULL, MS_BIND, NULL) != 0) fail("bind", path, errno);
    /* Landlock sees the run's /tmp (all rights) above this mount point: what may only be read
     * is made read-only by the mount itself. The flags the host's mount has (a /tmp mounted
     * noexec, say) are kept: in a user namespace they are locked, and a remount that dropped
     * one would be refused. */
    if (!(grant->rights & FS_WRITE_FILE)) {
        struct statvfs host;
        if (fstatvfs(grant->fd, &host) != 0) fail("statvfs", path, errno);
        unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV;
        if (host.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
        if (host.f_flag & ST_NOATIME) flags |= MS_NOATIME;
        if (host.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
        if (host.f_flag & ST_RELATIME) flags |= MS_RELATIME;
        if (mount(NULL, path, NULL, flags, NULL) != 0) fail("make read-only", path, errno);
    }
}

/* The hard limit one above the soft one: at the soft limit the kernel sends the signal that
 * names the cause (SIGXCPU for CPU time), where at a hard limit it would send SIGKILL. */
static void limit(int resource, const char *name, unsigned long long value) {
    struct rlimit bound = { .rlim_cur = value, .rlim_max = resource == RLIMIT_CPU ? value + 1 : value };
    if (setrlimit(resource, &bound) != 0) fail("setrlimit", name, errno);
}

void hb_confine(const struct hb_spawn_request *request) {
    const struct hb_confinement *c = request->confinement;
    const char *run_folder = request->run_folder, *directory = request->directory;
    uid_t run_uid = request->run_uid;
    int abi = landlock_abi();
    if (abi < 1) fail("Landlock is not available in this kernel", NULL, ENOSYS);
    int root = geteuid() == 0;
    if (root && (!c->switch_user || run_uid == 0)) fail("started as root without a run user: a run never keeps root", NULL, EPERM);
    if (c->grant_count > MAX_GRANTS - 3) fail("too many paths", NULL, E2BIG);
    int private_tmp = c->private_tmp_options != NULL;
    int namespaces = private_tmp || c->no_network || c->processes > 0;
    /* No core dump, from the start: until its execve this child's memory is HookBus's, and once
     * it has become the run user, a process of that user could signal it. */
    limit(RLIMIT_CORE, "core", 0);

    /* The process limit counts the processes of one user (in one user namespace). A root
     * HookBus gives each run a uid of its own, which is all it takes. Another user cannot: its
     * runs get a user namespace each, whose parent level is bounded by the limit in force when
     * it is made, so that one is lifted first. */
    int own_user_namespace = !root && namespaces;
    if (own_user_namespace && c->processes > 0) {
        struct rlimit current;
        if (getrlimit(RLIMIT_NPROC, &current) != 0) fail("getrlimit", "nproc", errno);
        current.rlim_cur = current.rlim_max;
        if (setrlimit(RLIMIT_NPROC, &current) != 0) fail("setrlimit", "nproc", errno);
    }
    /* Mount and network namespaces: root makes them itself; another user makes them inside a
     * user namespace of its own, which gives it the right to mount there. */
    /* (A root HookBus may hand the run a namespace made for runs to take in turn, tmpslot.c.) */
    int joins = root && private_tmp && request->mount_namespace >= 0;
    int flags = (private_tmp && !joins ? CLONE_NEWNS : 0) | (c->no_network ? CLONE_NEWNET : 0);
    if (own_user_namespace) {
        if (unshare(CLONE_NEWUSER | flags) != 0) fail("unshare", NULL, errno);
        map_ids(c->uid_map, c->gid_map);
    } else if (flags != 0) {
        if (unshare(flags) != 0) fail("unshare", NULL, errno);
    }
    /* Every path is opened now, while paths still name the host's files (and in the mount
     * namespace the binds are made in: the kernel binds only from the same one). Shorter paths
     * first (the caller sorted them; the run folder goes in its place), so that a folder is
     * bound into the private /tmp before what is in it. */
    struct opened grants[MAX_GRANTS];
    int count = 0;
    int run_length = run_folder ? (int)strlen(run_folder) : 0;
    int run_placed = run_folder == NULL;
    for (int i = 0; i <= c->grant_count; i++) {
        if (!run_placed && (i == c->grant_count || (int)strlen(c->grants[i].path) > run_length)) {
            count += open_grant(&grants[count], run_folder, HB_RIGHTS_ALL, 0);
            run_placed = 1;
        }
        if (i == c->grant_count) break;
        /* (Opened ahead by HookBus where it could: GrantCache.swift.) */
        const struct hb_opened_grant *ahead = request->opened ? &request->opened[i] : NULL;
        if (ahead && ahead->fd >= 0) {
            grants[count++] = (struct opened){ .path = c->grants[i].path, .rights = c->grants[i].rights, .fd = ahead->fd, .is_directory = ahead->is_directory };
        } else {
            count += open_grant(&grants[count], c->grants[i].path, c->grants[i].rights, c->grants[i].optional);
        }
    }
    if (joins) {
        /* Its /tmp was handed to this run's uid and found empty; nothing of the run's is under
         * the host's /tmp (HookBus checked), so nothing needs binding into it. */
        if (setns(request->mount_namespace, CLONE_NEWNS) != 0) fail("setns", "mount namespace", errno);
    } else if (private_tmp) {
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail("mount private", "/", errno);
        if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, c->private_tmp_options) != 0) fail("mount", "/tmp", errno);
        /* What the run may use under the host's /tmp (its own folder, by default) stays at its
         * path, bound into the new /tmp; a path beneath one already bound is visible through it
         * (and making its mount point there would write to the host's folder). */
        for (int i = 0; i < count; i++) {
            if (!beneath(grants[i].path, "/tmp") || strcmp(grants[i].path, "/tmp") == 0) continue;
            int covered = 0;
            for (int j = 0; j < i; j++) {
                if (beneath(grants[j].path, "/tmp") && strcmp(grants[j].path, "/tmp") != 0 && beneath(grants[i].path, grants[j].path)) covered = 1;
            }
            if (!covered) bind_into_tmp(&grants[i]);
        }
    }
    if (chdir(directory) != 0) fail("chdir", directory, errno);
    if (root) {
        /* Root is given up for good (the run folder was made the run's uid's by HookBus): the
         * run becomes a uid no other run has (RunUIDs.swift) and the run user's group, and
         * makes what it creates writable by that group (a folder granted to every run stays
         * usable by the next, whose uid differs).
         *
         * Raw system calls, not glibc's setgroups/setresgid/setresuid: in a process with
         * threads, glibc changes ids on all of them, under a process-wide lock — HookBus's
         * threads and lock, which this child shares. A child killed while holding it would
         * leave HookBus unable to start a thread again. */
        if (syscall(SYS_setgroups, 0, NULL) != 0) fail("setgroups", NULL, errno);
        if (syscall(SYS_setresgid, c->gid, c->gid, c->gid) != 0) fail("setresgid", NULL, errno);
        if (syscall(SYS_setresuid, run_uid, run_uid, run_uid) != 0) fail("setresuid", NULL, errno);
        uid_t real, effective, saved;
        gid_t real_group, effective_group, saved_group;
        if (syscall(SYS_getresuid, &real, &effective, &saved) != 0 || syscall(SYS_getresgid, &real_group, &effective_group, &saved_group) != 0 ||
            real != run_uid || effective != run_uid || saved != run_uid || real_group != c->gid || effective_group != c->gid || saved_group != c->gid)
            fail("could not give up root", NULL, EPERM);
        umask(S_IWOTH);
        /* The memory this child shares with HookBus stays non-dumpable (the user change made it
         * so, and HookBus sets it so at start): made dumpable here, a process of the run's uid
         * could stop this child and read HookBus's memory through /proc/CHILD/mem. The run's
         * program gets memory of its own at its execve, dumpable as its user's. */
    }

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("no_new_privs", NULL, errno);
    __u64 handled = handled_fs(abi);
    struct ruleset_attr attributes = { .handled_access_fs = handled };
    size_t size = sizeof(__u64);
    if (c->deny_tcp) {
        if (abi < 4) fail("Landlock before version 4 cannot deny TCP", NULL, ENOTSUP);
        attributes.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP;
        size = 2 * sizeof(__u64);
    }
    if (abi >= 6) {
        /* Signals and abstract UNIX sockets only within the run: it cannot signal HookBus or
         * other runs, nor reach their abstract sockets. */
        attributes.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL;
        size = sizeof attributes;
    }
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attributes, size, 0);
    if (ruleset < 0) fail("landlock ruleset", NULL, errno);
    if (private_tmp) count += open_grant(&grants[count], "/tmp", HB_RIGHTS_ALL, 0);
    /* /proc/self names this process (the run keeps its pid through the execve). */
    if (c->proc_self) {
        int fd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) fail("open", "/proc/self", errno);
        grants[count++] = (struct opened){ .path = "/proc/self", .rights = FS_READ_FILE | FS_READ_DIR, .fd = fd, .is_directory = 1 };
    }
    for (int i = 0; i < count; i++) {
        add_rule(ruleset, &grants[i], handled);
        close(grants[i].fd);
    }
    if (syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) fail("landlock restrict", NULL, errno);
    close(ruleset);

    if (c->memory > 0) limit(RLIMIT_AS, "memory", c->memory);
    if (c->cpu_seconds > 0) limit(RLIMIT_CPU, "cpu", c->cpu_seconds);
    if (c->processes > 0) limit(RLIMIT_NPROC, "processes", c->processes);
    if (c->file_size > 0) limit(RLIMIT_FSIZE, "file size", c->file_size);
    limit(RLIMIT_CORE, "core", 0);
}

/* Whether a grant can be opened and made into a rule as a run does (openat2 and Landlock may
 * be filtered away by a seccomp profile even where the kernel has them). Safe in HookBus's own
 * process: a ruleset that is never enforced restricts nothing. */
static int rules_work(void) {
    int abi = landlock_abi();
    if (abi < 1) return 0;
    struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, "/usr", &how, sizeof how);
    if (fd < 0) return 0;
    struct ruleset_attr attributes = { .handled_access_fs = handled_fs(abi) };
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attributes, sizeof(__u64), 0);
    struct path_beneath_attr rule = { .allowed_access = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR, .parent_fd = fd };
    int works = ruleset >= 0 && syscall(SYS_landlock_add_rule, ruleset, RULE_PATH_BENEATH, &rule, 0) == 0;
    if (ruleset >= 0) close(ruleset);
    close(fd);
    return works;
}

/* "ID ID 1\n": a user namespace in which `id` stays itself. */
static void map_line(char *line, unsigned long long id) {
    hb_decimal(id, line);
    size_t length = strlen(line);
    line[length] = ' ';
    hb_decimal(id, line + length + 1);
    strcat(line, " 1\n");
}

void hb_probe(int *landlock, int *namespaces) {
    *landlock = rules_work() ? landlock_abi() : 0;
    *namespaces = 0;
    if (*landlock < 1) return;
    /* A run's namespace steps, in its order, in a child that confines itself as a run does and
     * exits instead of exec'ing (a kernel may allow the namespaces and still refuse a mount or
     * a map in them). */
    int root = geteuid() == 0;
    char uid_map[64], gid_map[64];
    map_line(uid_map, getuid());
    map_line(gid_map, getgid());
    struct hb_confinement confinement = {
        .landlock_abi = *landlock, .private_tmp_options = "size=1048576,mode=1777", .no_network = 1,
        .switch_user = root, .gid = root ? 65534 : getgid(), .uid_map = uid_map, .gid_map = gid_map, .processes = 64,
    };
    int quiet = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (quiet < 0) return;
    struct hb_spawn_request request = {
        .path = NULL, .directory = "/", .stdin_fd = quiet, .stdout_fd = quiet, .stderr_fd = quiet,
        .confinement = &confinement, .run_uid = root ? 65534 : 0, .mount_namespace = -1, .opened = NULL, .probe_only = 1,
    };
    pid_t child;
    int pidfd;
    if (hb_spawn(&request, &child, &pidfd) == 0) {
        int code = -1, signal = 0;
        *namespaces = hb_wait_status(pidfd, 1, &code, &signal) == 0 && code == 0;
        close(pidfd);
    }
    close(quiet);
}
