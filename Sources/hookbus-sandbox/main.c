/*
 * hookbus-sandbox: confines one trigger run, then becomes it (execve, same process id).
 *
 *   hookbus-sandbox [OPTION]... -- PROGRAM [ARG]...
 *   hookbus-sandbox --probe          prints what this kernel allows: "landlock=N namespaces=0|1"
 *
 * Options (HookBus's ProcessRunner writes them; see Sandbox.swift for the policy):
 *   --ro PATH          may read and execute beneath PATH (a file or a folder)
 *   --ro-system PATH   as --ro, skipped when missing (a system file an upgrade may remove)
 *   --rw PATH          may read, write, create and remove beneath PATH
 *   --run PATH         the run's own folder (as --rw; HookBus makes it the run user's)
 *   --dev PATH         a device file it may read and write (/dev/null …)
 *   --proc-self        may read its own /proc/PID (not HookBus's, nor any other process's)
 *   --private-tmp BYTES  a fresh, empty /tmp of its own of at most BYTES (needs namespaces)
 *   --no-network       a network namespace of its own: no interface but a loopback that is down
 *   --deny-tcp         no TCP connect or bind (Landlock), where namespaces are not available
 *   --user UID:GID     when started as root: the user it runs as
 *   --memory BYTES --cpu SECONDS --processes N --file-size BYTES   resource limits (setrlimit)
 *
 * Written in C, and small, because it runs on every trigger start between HookBus's spawn and
 * the interpreter's: one more execve of a tiny program (about 0.3 ms) instead of bubblewrap's
 * ~10 ms of namespace and mount set-up, and none of this can run in a forked Swift child.
 * Everything it does is kept by the execve: Landlock rules (file access, and signals and
 * abstract sockets scoped to the run), namespaces, the user, no_new_privs and rlimits. The
 * environment, argv, stdin/stdout/stderr, working folder and process group it was given pass
 * through unchanged, so HookBus's time limits and process-group kill work as without it.
 *
 * Exit status 125 and one line "hookbus-sandbox: …" on stderr when the sandbox could not be
 * set up (the run is then recorded as an error, never run unconfined); 127 when PROGRAM could
 * not be started.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <linux/types.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* SwiftPM links every executable, this C one included, with the Swift runtime's image
 * registration object (swiftrt.o), whose constructor calls these two functions. This program has
 * no Swift code: defined here as doing nothing, so that the static link (Package.swift) takes
 * nothing of the Swift runtime. Dynamically linked, loading libswiftCore and libstdc++ cost
 * about 5 ms on every trigger start, more than the sandbox itself. */
void swift_addNewDSOImage(const void *sections) { (void)sections; }
int _swift_backtrace_isThunkFunction(const char *name) { (void)name; return 0; }

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
#define FS_READ_RIGHTS (FS_EXECUTE | FS_READ_FILE | FS_READ_DIR)
/* Every right; narrowed to those the kernel handles when a rule is made. */
#define ALL_RIGHTS (~0ULL)

#define MAX_PATHS 256

static void fail(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    fputs("hookbus-sandbox: ", stderr);
    vfprintf(stderr, format, arguments);
    fputc('\n', stderr);
    va_end(arguments);
    _exit(125);
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
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) fail("open %s: %s", path, strerror(errno));
    ssize_t length = (ssize_t)strlen(text);
    if (write(fd, text, length) != length) fail("write %s: %s", path, strerror(errno));
    close(fd);
}

/* A user namespace in which this process keeps its own user and group ids. */
static void map_ids(uid_t uid, gid_t gid) {
    char line[64];
    snprintf(line, sizeof line, "%u %u 1\n", uid, uid);
    write_file("/proc/self/uid_map", line);
    write_file("/proc/self/setgroups", "deny");
    snprintf(line, sizeof line, "%u %u 1\n", gid, gid);
    write_file("/proc/self/gid_map", line);
}

static uid_t target_uid;
static gid_t target_gid;

/* A path the run may use, opened (O_PATH) before any namespace or mount changes what a path
 * names: the Landlock rule is made from this descriptor, and a path under /tmp is bound from it
 * into the run's private /tmp. */
struct grant {
    const char *path;
    __u64 rights;
    int fd;
    int is_directory;
};
static struct grant grants[3 * MAX_PATHS + 8];
static int grant_count;

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
 * somewhere must not be able to plant a link there that a later run's grant would follow. */
static void grant_path(const char *path, __u64 rights, int optional) {
    if (!canonical(path)) fail("not a canonical absolute path: '%s'", path);
    struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
    if (fd < 0 && optional && errno == ENOENT) return;
    if (fd < 0) fail("open %s: %s", path, errno == ELOOP ? "a symbolic link is on the way" : strerror(errno));
    struct stat status;
    if (fstat(fd, &status) != 0) fail("stat %s: %s", path, strerror(errno));
    if (grant_count == (int)(sizeof grants / sizeof grants[0])) fail("too many paths");
    grants[grant_count++] = (struct grant){ .path = path, .rights = rights, .fd = fd, .is_directory = S_ISDIR(status.st_mode) };
}

static void grant(const char *path, __u64 rights) { grant_path(path, rights, 0); }

static void add_rule(int ruleset, int fd, int is_directory, __u64 rights, __u64 handled, const char *path) {
    struct path_beneath_attr rule = { .allowed_access = rights & handled, .parent_fd = fd };
    if (!is_directory) rule.allowed_access &= FS_FILE_RIGHTS;
    if (syscall(SYS_landlock_add_rule, ruleset, RULE_PATH_BENEATH, &rule, 0) != 0)
        fail("landlock rule for %s: %s", path, strerror(errno));
}

/* Makes `path` (under the fresh /tmp) exist as a mount point of the grant's kind, its folders
 * first, and binds the granted file or folder there. */
static void bind_into_tmp(const struct grant *granted) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s", granted->path) >= (int)sizeof path) fail("path too long: %s", granted->path);
    for (char *slash = strchr(path + 5, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) fail("mkdir %s: %s", path, strerror(errno));
        *slash = '/';
    }
    if (granted->is_directory) {
        if (mkdir(path, 0755) != 0 && errno != EEXIST) fail("mkdir %s: %s", path, strerror(errno));
    } else {
        int file = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (file < 0) fail("create %s: %s", path, strerror(errno));
        close(file);
    }
    char source[64];
    snprintf(source, sizeof source, "/proc/self/fd/%d", granted->fd);
    if (mount(source, path, NULL, MS_BIND, NULL) != 0) fail("bind %s: %s", path, strerror(errno));
    /* Landlock sees the run's /tmp (all rights) above this mount point: what may only be read
     * is made read-only by the mount itself. */
    if (!(granted->rights & FS_WRITE_FILE) &&
        mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0)
        fail("make %s read-only: %s", path, strerror(errno));
}

static int by_length(const void *left, const void *right) {
    size_t a = strlen(((const struct grant *)left)->path), b = strlen(((const struct grant *)right)->path);
    return a < b ? -1 : a > b;
}

/* Whether `path` is beneath `folder` (or is it). */
static int beneath(const char *path, const char *folder) {
    size_t length = strlen(folder);
    return strncmp(path, folder, length) == 0 && (path[length] == '/' || path[length] == '\0');
}

/* A whole number from 1 to 2^62: digits only (strtoull alone reads "-1" as its largest value). */
static unsigned long long number(const char *option, const char *text) {
    if (text[0] < '0' || text[0] > '9') fail("%s needs a whole number, not '%s'", option, text);
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || value == 0 || value > (1ULL << 62)) fail("%s needs a whole number from 1 to 2^62, not '%s'", option, text);
    return value;
}

/* The hard limit one above the soft one: at the soft limit the kernel sends the signal that
 * names the cause (SIGXCPU for CPU time), where at a hard limit it would send SIGKILL. */
static void limit(int resource, const char *name, unsigned long long value) {
    struct rlimit bound = { .rlim_cur = value, .rlim_max = resource == RLIMIT_CPU ? value + 1 : value };
    if (setrlimit(resource, &bound) != 0) fail("setrlimit %s %llu: %s", name, value, strerror(errno));
}

/* Whether a user namespace (with mount and network namespaces in it) can be made here, as
 * HookBus would make one: by this user, or, for root, after switching to an unprivileged one. */
static int namespaces_work(void) {
    pid_t child = fork();
    if (child < 0) return 0;
    if (child == 0) {
        /* The steps a run takes, in its order (a kernel may allow the namespaces and still
         * refuse a mount in them). */
        int root = geteuid() == 0;
        uid_t uid = root ? 65534 : getuid();
        gid_t gid = root ? 65534 : getgid();
        if (root) {
            if (unshare(CLONE_NEWNS | CLONE_NEWNET) != 0) _exit(1);
            if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 || mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=1777") != 0) _exit(1);
            if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) _exit(1);
            if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0 || unshare(CLONE_NEWUSER) != 0) _exit(1);
        } else {
            if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) != 0) _exit(1);
        }
        map_ids(uid, gid);
        if (!root) {
            if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 || mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=1777") != 0) _exit(1);
        }
        _exit(0);
    }
    int status = 0;
    if (waitpid(child, &status, 0) != child) return 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Whether a grant can be opened and made into a rule as a run does (openat2 and Landlock may
 * be filtered away by a seccomp profile even where the kernel has them). */
static int rules_work(void) {
    int abi = landlock_abi();
    if (abi < 1) return 0;
    struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, "/usr", &how, sizeof how);
    if (fd < 0) return 0;
    struct ruleset_attr attributes = { .handled_access_fs = handled_fs(abi) };
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attributes, sizeof(__u64), 0);
    struct path_beneath_attr rule = { .allowed_access = FS_READ_RIGHTS, .parent_fd = fd };
    int works = ruleset >= 0 && syscall(SYS_landlock_add_rule, ruleset, RULE_PATH_BENEATH, &rule, 0) == 0;
    if (ruleset >= 0) close(ruleset);
    close(fd);
    return works;
}

int main(int argc, char **argv) {
    const char *read_paths[MAX_PATHS], *write_paths[MAX_PATHS], *device_paths[MAX_PATHS];
    const char *run_folder = NULL;
    const char *system_paths[MAX_PATHS];
    int systems = 0;
    int reads = 0, writes = 0, devices = 0;
    int proc_self = 0, private_tmp = 0, no_network = 0, deny_tcp = 0, have_user = 0;
    unsigned long long memory = 0, cpu = 0, processes = 0, file_size = 0, tmp_size = 0;
    int index = 1;
    for (; index < argc; index++) {
        const char *option = argv[index];
        if (strcmp(option, "--") == 0) { index++; break; }
        if (strcmp(option, "--probe") == 0) {
            printf("landlock=%d namespaces=%d\n", rules_work() ? landlock_abi() : 0, namespaces_work());
            return 0;
        }
        if (strcmp(option, "--proc-self") == 0) { proc_self = 1; continue; }

        if (strcmp(option, "--no-network") == 0) { no_network = 1; continue; }
        if (strcmp(option, "--deny-tcp") == 0) { deny_tcp = 1; continue; }
        if (index + 1 >= argc) fail("%s needs a value", option);
        const char *value = argv[++index];
        if (strcmp(option, "--ro-system") == 0) {
            if (systems == MAX_PATHS) fail("more than %d paths for %s", MAX_PATHS, option);
            system_paths[systems++] = value;
        } else if (strcmp(option, "--ro") == 0 || strcmp(option, "--rw") == 0 || strcmp(option, "--dev") == 0) {
            int *count = option[2] == 'r' ? (option[3] == 'o' ? &reads : &writes) : &devices;
            const char **list = option[2] == 'r' ? (option[3] == 'o' ? read_paths : write_paths) : device_paths;
            if (*count == MAX_PATHS) fail("more than %d paths for %s", MAX_PATHS, option);
            list[(*count)++] = value;
        } else if (strcmp(option, "--private-tmp") == 0) {
            private_tmp = 1;
            tmp_size = number(option, value);
        } else if (strcmp(option, "--run") == 0) {
            run_folder = value;
        } else if (strcmp(option, "--user") == 0) {
            /* Digits only, neither root nor -1 (which setresuid reads as "unchanged"). */
            char ids[64];
            if (snprintf(ids, sizeof ids, "%s", value) >= (int)sizeof ids) fail("--user needs UID:GID, not '%s'", value);
            char *colon = strchr(ids, ':');
            if (!colon) fail("--user needs UID:GID, not '%s'", value);
            *colon = '\0';
            unsigned long long uid = number("--user", ids), gid = number("--user", colon + 1);
            if (uid >= 0xFFFFFFFFULL || gid >= 0xFFFFFFFFULL) fail("--user needs a user and a group other than root");
            target_uid = (uid_t)uid;
            target_gid = (gid_t)gid;
            have_user = 1;
        } else if (strcmp(option, "--memory") == 0) {
            memory = number(option, value);
        } else if (strcmp(option, "--cpu") == 0) {
            cpu = number(option, value);
        } else if (strcmp(option, "--processes") == 0) {
            processes = number(option, value);
        } else if (strcmp(option, "--file-size") == 0) {
            file_size = number(option, value);
        } else {
            fail("unknown option %s", option);
        }
    }
    if (index >= argc) fail("no program to run (expected -- PROGRAM [ARG]...)");
    char **program = argv + index;

    int abi = landlock_abi();
    if (abi < 1) fail("Landlock is not available in this kernel");
    int root = geteuid() == 0;
    if (root && !have_user) fail("started as root without --user: a run never keeps root");
    uid_t uid = root ? target_uid : getuid();
    gid_t gid = root ? target_gid : getgid();
    int namespaces = private_tmp || no_network || processes > 0;


    /* The process limit counts the processes of one user in one user namespace: a namespace of
     * the run's own makes it count this run's processes only. The namespace's parent level is
     * bounded by the limit in force when it is made, so that one is lifted first. */
    if (processes > 0) {
        struct rlimit current;
        if (getrlimit(RLIMIT_NPROC, &current) != 0) fail("getrlimit: %s", strerror(errno));
        current.rlim_cur = current.rlim_max;
        if (setrlimit(RLIMIT_NPROC, &current) != 0) fail("setrlimit nproc: %s", strerror(errno));
    }
    /* Mount and network namespaces: root makes them itself; another user makes them inside a
     * user namespace of its own, which gives it the right to mount there. */
    int flags = (private_tmp ? CLONE_NEWNS : 0) | (no_network ? CLONE_NEWNET : 0);
    int user_namespace_made = 0;
    if (namespaces) {
        if (root) {
            if (flags != 0 && unshare(flags) != 0) fail("unshare: %s", strerror(errno));
        } else {
            if (unshare(CLONE_NEWUSER | flags) != 0) fail("unshare: %s", strerror(errno));
            map_ids(uid, gid);
            user_namespace_made = 1;
        }
    }
    /* Every path is opened now, while paths still name the host's files (and in the mount
     * namespace the binds are made in: the kernel binds only from the same one). Longer paths
     * after shorter ones, so that a folder is bound into the private /tmp before what is in it. */
    for (int i = 0; i < systems; i++) grant_path(system_paths[i], FS_READ_RIGHTS, 1);
    for (int i = 0; i < reads; i++) grant(read_paths[i], FS_READ_RIGHTS);
    for (int i = 0; i < writes; i++) grant(write_paths[i], ALL_RIGHTS);
    if (run_folder) grant(run_folder, ALL_RIGHTS);
    for (int i = 0; i < devices; i++) grant(device_paths[i], FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE | FS_IOCTL_DEV);
    qsort(grants, grant_count, sizeof grants[0], by_length);
    if (private_tmp) {
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail("mount private /: %s", strerror(errno));
        char cwd[4096];
        if (getcwd(cwd, sizeof cwd) == NULL) fail("getcwd: %s", strerror(errno));
        char options[96];
        snprintf(options, sizeof options, "size=%llu,nr_inodes=65536,mode=1777", tmp_size);
        if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, options) != 0) fail("mount /tmp: %s", strerror(errno));
        /* What the run may use under the host's /tmp (its own folder, by default) stays at its
         * path, bound into the new /tmp; a path beneath one already bound is visible through it
         * (and making its mount point there would write to the host's folder). */
        for (int i = 0; i < grant_count; i++) {
            if (!beneath(grants[i].path, "/tmp") || strcmp(grants[i].path, "/tmp") == 0) continue;
            int covered = 0;
            for (int j = 0; j < i; j++) {
                if (beneath(grants[j].path, "/tmp") && strcmp(grants[j].path, "/tmp") != 0 && beneath(grants[i].path, grants[j].path)) covered = 1;
            }
            if (!covered) bind_into_tmp(&grants[i]);
        }
        if (beneath(cwd, "/tmp") && chdir(cwd) != 0) fail("chdir %s: %s", cwd, strerror(errno));
    }
    if (root) {
        /* Root is given up for good (the run folder was made the run user's by HookBus). */
        if (setgroups(0, NULL) != 0) fail("setgroups: %s", strerror(errno));
        if (setresgid(gid, gid, gid) != 0) fail("setresgid %u: %s", gid, strerror(errno));
        if (setresuid(uid, uid, uid) != 0) fail("setresuid %u: %s", uid, strerror(errno));
        uid_t real, effective, saved;
        gid_t real_group, effective_group, saved_group;
        if (getresuid(&real, &effective, &saved) != 0 || getresgid(&real_group, &effective_group, &saved_group) != 0 ||
            real == 0 || effective == 0 || saved == 0 || real_group == 0 || effective_group == 0 || saved_group == 0)
            fail("could not give up root");
        /* Changing user made the process non-dumpable, which would leave /proc/self (its id
         * maps among it) owned by root. */
        if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) fail("prctl dumpable: %s", strerror(errno));
        if (processes > 0) {
            if (unshare(CLONE_NEWUSER) != 0) fail("unshare user: %s", strerror(errno));
            map_ids(uid, gid);
            user_namespace_made = 1;
        }
    }
    (void)user_namespace_made;

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("no_new_privs: %s", strerror(errno));
    __u64 handled = handled_fs(abi);
    struct ruleset_attr attributes = { .handled_access_fs = handled };
    size_t size = sizeof(__u64);
    if (deny_tcp) {
        if (abi < 4) fail("Landlock %d cannot deny TCP (version 4 can)", abi);
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
    if (ruleset < 0) fail("landlock ruleset: %s", strerror(errno));
    if (private_tmp) grant("/tmp", ALL_RIGHTS);
    if (proc_self) {
        static char own[32];
        snprintf(own, sizeof own, "/proc/%d", (int)getpid());
        grant(own, FS_READ_FILE | FS_READ_DIR);
    }
    for (int i = 0; i < grant_count; i++) {
        add_rule(ruleset, grants[i].fd, grants[i].is_directory, grants[i].rights, handled, grants[i].path);
        close(grants[i].fd);
    }
    if (syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) fail("landlock restrict: %s", strerror(errno));
    close(ruleset);

    if (memory > 0) limit(RLIMIT_AS, "memory", memory);
    if (cpu > 0) limit(RLIMIT_CPU, "cpu", cpu);
    if (processes > 0) limit(RLIMIT_NPROC, "processes", processes);
    if (file_size > 0) limit(RLIMIT_FSIZE, "file size", file_size);
    limit(RLIMIT_CORE, "core", 0);

    execve(program[0], program, environ);
    fprintf(stderr, "hookbus-sandbox: cannot start %s: %s\n", program[0], strerror(errno));
    _exit(127);
}
