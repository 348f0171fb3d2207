/*
 * Starting a run: clone(CLONE_VM) into a child that takes its stdio, a session of
 * its own, default signal handling, its sandbox (confine.c) and then execve's the interpreter.
 *
 * Why this is C and not swift-subprocess (measured, README "Performance"): a run's start is
 * the cost that bounds how many runs a second HookBus completes, and a Swift child cannot run
 * code between fork and exec. Earlier, swift-subprocess started a separate sandbox helper,
 * which then exec'd the interpreter: two execve's and the helper's own dynamic start on every
 * run, and swift-subprocess itself cost about 300 µs of HookBus's CPU per start more than the
 * shared harness's posix_spawn. Here, as in glibc's posix_spawn, the child borrows HookBus's
 * memory until its execve (no page tables copied, however large HookBus is) and the calling
 * thread waits that long; the sandbox costs a few dozen system calls in that child.
 *
 * Rules for the child (it shares HookBus's memory and its thread's TLS): no malloc, no stdio,
 * no locks; only system calls and the string functions. The caller prepared everything.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/futex.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* How long a child may take to get ready (set up its sandbox and exec) before it is killed and
 * the start reported as failed (ETIMEDOUT). Setting up takes about a millisecond. */
#define SETUP_DEADLINE_MS 10000

/* The child's stack: the Landlock grants it opens live there (see confine.c's MAX_GRANTS). */
#define CHILD_STACK_BYTES (256 * 1024)

void hb_decimal(unsigned long long value, char *buffer) {
    char digits[24];
    int count = 0;
    do { digits[count++] = (char)('0' + value % 10); value /= 10; } while (value > 0);
    for (int i = 0; i < count; i++) buffer[i] = digits[count - 1 - i];
    buffer[count] = '\0';
}

static size_t append(char *buffer, size_t used, size_t capacity, const char *text) {
    size_t length = strlen(text);
    if (used + length >= capacity) length = capacity - used - 1;
    memcpy(buffer + used, text, length);
    buffer[used + length] = '\0';
    return used + length;
}

void hb_child_exit(int status, const char *what, const char *path, int error) {
    char line[4200];
    size_t used = append(line, 0, sizeof line, "hookbus: ");
    used = append(line, used, sizeof line, what);
    if (path) {
        used = append(line, used, sizeof line, " ");
        used = append(line, used, sizeof line, path);
    }
    /* strerrordesc_np: the message without locale machinery (no allocation, no lock). */
    const char *reason = strerrordesc_np(error);
    used = append(line, used, sizeof line, ": ");
    used = append(line, used, sizeof line, reason ? reason : "unknown error");
    used = append(line, used, sizeof line, "\n");
    ssize_t written;
    do { written = write(STDERR_FILENO, line, used); } while (written < 0 && errno == EINTR);
    _exit(status);
}

/* `from` as the child's descriptor `to`, kept open across the execve. */
static void take(int from, int to) {
    if (from == to) {
        if (fcntl(to, F_SETFD, 0) != 0) hb_child_exit(HB_SETUP_FAILED, "stdio", NULL, errno);
    } else if (dup2(from, to) != to) {
        hb_child_exit(HB_SETUP_FAILED, "stdio", NULL, errno);
    }
}

/* A system call that returns -errno instead of setting errno. The child runs on its parent
 * thread's TLS, so the two share one errno: what the parent calls while the child gets ready
 * must leave it alone (a timed-out wait would otherwise write ETIMEDOUT between a child's failed
 * call and its check). */
static long raw_syscall4(long number, long a, long b, long c, long d) {
    long result;
#if defined(__x86_64__)
    register long r10 __asm__("r10") = d;
    __asm__ volatile ("syscall" : "=a"(result) : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = number;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile ("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    result = x0;
#else
#error "raw_syscall4: add this architecture's system call convention"
#endif
    return result;
}

/* Waits while *word is `value`, at most `timeout` (relative). */
static long futex_wait(int *word, int value, const struct timespec *timeout) {
    return raw_syscall4(SYS_futex, (long)word, FUTEX_WAIT, value, (long)timeout);
}

static int child_main(void *argument) {
    const struct hb_spawn_request *request = argument;
    /* A source among 0-2 (HookBus started with its own stdio closed) is moved out of the way
     * first, so that no dup2 overwrites another's source. Then stderr, so that every later
     * failure is reported on it. */
    int input = request->stdin_fd, output = request->stdout_fd, errors = request->stderr_fd;
    if (input < 3) input = fcntl(input, F_DUPFD_CLOEXEC, 3);
    if (output < 3) output = fcntl(output, F_DUPFD_CLOEXEC, 3);
    if (errors < 3) errors = fcntl(errors, F_DUPFD_CLOEXEC, 3);
    if (input < 0 || output < 0 || errors < 0) _exit(HB_SETUP_FAILED);
    take(errors, STDERR_FILENO);
    take(input, STDIN_FILENO);
    take(output, STDOUT_FILENO);
    /* Nothing else of HookBus's reaches the run: every other descriptor closes at the execve. */
    if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) hb_child_exit(HB_SETUP_FAILED, "close_range", NULL, errno);
    /* Signals as a new program expects them: default actions (HookBus ignores SIGPIPE), none
     * blocked (the parent blocked all of them around the clone). The handlers are the child's
     * own copy (no CLONE_SIGHAND). */
    /* (glibc refuses its own two internal signals, and SIGKILL and SIGSTOP cannot change.) */
    struct sigaction default_action;
    memset(&default_action, 0, sizeof default_action);
    default_action.sa_handler = SIG_DFL;
    for (int signal = 1; signal < _NSIG; signal++) (void)sigaction(signal, &default_action, NULL);
    /* A session (and process group) of its own: a time limit ends the whole group. */
    if (setsid() < 0) hb_child_exit(HB_SETUP_FAILED, "setsid", NULL, errno);
    if (request->confinement) {
        hb_confine(request);
    } else if (chdir(request->directory) != 0) {
        hb_child_exit(HB_SETUP_FAILED, "chdir", request->directory, errno);
    }
    if (request->probe_only) _exit(0);
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    execve(request->path, request->argv, request->envp);
    hb_child_exit(HB_CANNOT_START, "cannot start", request->path, errno);
}

/* Writes `text` to /proc/PID/NAME. 0 or an errno value. */
int hb_write_text(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    ssize_t length = (ssize_t)strlen(text);
    ssize_t written = write(fd, text, length);
    int error = written == length ? 0 : written < 0 ? errno : EIO;
    close(fd);
    return error;
}

/* Each spawning thread keeps its child stack: a fresh one per run would be an mmap, page faults
 * on the pages the child touches, and an munmap that interrupts HookBus's other threads to
 * flush their TLBs. One thread starts one child at a time, and waits until it has let go of
 * the stack (exec or exit) before it can start the next. */
static pthread_key_t stack_key;
static pthread_once_t stack_key_once = PTHREAD_ONCE_INIT;

static void make_stack_key(void) {
    /* (Freed when its thread ends.) If the key cannot be made, every spawn fails with ENOMEM
     * rather than leak. */
    if (pthread_key_create(&stack_key, free) != 0) stack_key = (pthread_key_t)-1;
}

static char *thread_stack(void) {
    pthread_once(&stack_key_once, make_stack_key);
    if (stack_key == (pthread_key_t)-1) return NULL;
    char *stack = pthread_getspecific(stack_key);
    if (stack) return stack;
    stack = malloc(CHILD_STACK_BYTES);
    if (stack && pthread_setspecific(stack_key, stack) != 0) {
        free(stack);
        return NULL;
    }
    return stack;
}

int hb_spawn(const struct hb_spawn_request *request, pid_t *pid, int *pidfd) {
    char *stack = thread_stack();
    if (!stack) return ENOMEM;
    /* No signal handler of HookBus's may run in the child before it resets them. */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    /* Like vfork, the child borrows this memory and this thread waits until it has exec'd or
     * exited — seen as the kernel clearing `ready` (CLONE_CHILD_CLEARTID), which it does when
     * the child lets go of the memory. Unlike vfork, the wait has a deadline (below). */
    int ready = 1;
    int descriptor = -1;
    pid_t child = clone(child_main, stack + CHILD_STACK_BYTES, CLONE_VM | CLONE_PIDFD | CLONE_CHILD_CLEARTID | SIGCHLD,
                        (void *)request, &descriptor, NULL, &ready);
    int error = child < 0 ? errno : 0;
    struct timespec began;
    clock_gettime(CLOCK_MONOTONIC, &began);
    int stopped = 0;
    while (child > 0) {
        int state = __atomic_load_n(&ready, __ATOMIC_SEQ_CST);
        if (state == 0) break;
        /* A child that does not get ready in time (stopped by a process of the run user, say)
         * is killed — SIGKILL ends a stopped process too — so that this thread, one of
         * HookBus's, is never held for good. */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long waited_ms = (now.tv_sec - began.tv_sec) * 1000LL + (now.tv_nsec - began.tv_nsec) / 1000000;
        if (!stopped && waited_ms >= SETUP_DEADLINE_MS) {
            raw_syscall4(SYS_pidfd_send_signal, descriptor, SIGKILL, 0, 0);
            /* (Its process group too, in case it exec'd and forked at this very moment.) */
            raw_syscall4(SYS_kill, -child, SIGKILL, 0, 0);
            stopped = 1;
        }
        struct timespec slice = { .tv_sec = 0, .tv_nsec = 250 * 1000000L };
        futex_wait(&ready, state, &slice);
    }
    if (child > 0 && descriptor < 0) {
        /* A kernel before 5.2 ignores CLONE_PIDFD: HookBus needs pidfds to watch runs. */
        kill(-child, SIGKILL);
        kill(child, SIGKILL);
        while (waitpid(child, NULL, __WALL) < 0 && errno == EINTR) {}
        child = -1;
        error = ENOSYS;
    } else if (stopped) {
        int code, signal;
        hb_wait_status(descriptor, 1, &code, &signal);
        close(descriptor);
        child = -1;
        error = ETIMEDOUT;
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    /* The child has exec'd or exited: its stack is free again for this thread's next one. */
    if (child < 0) return error;
    *pid = child;
    *pidfd = descriptor;
    return 0;
}

int hb_keep_memory_private(void) {
    if (geteuid() != 0) return 0;
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : errno;
}

int hb_is_dumpable(void) {
    return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1;
}

int hb_pipe(int ends[2]) {
    if (pipe2(ends, O_CLOEXEC) != 0) return errno;
    if (fcntl(ends[0], F_SETFL, O_NONBLOCK) != 0) {
        int error = errno;
        close(ends[0]);
        close(ends[1]);
        return error;
    }
    return 0;
}

int hb_wait_status(int pidfd, int reap, int *exit_code, int *signal) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int result;
    do { result = waitid(P_PIDFD, (id_t)pidfd, &info, WEXITED | (reap ? 0 : WNOWAIT)); } while (result < 0 && errno == EINTR);
    if (result != 0) return errno;
    *exit_code = info.si_code == CLD_EXITED ? info.si_status : -1;
    *signal = info.si_code == CLD_EXITED ? 0 : info.si_status;
    return 0;
}

int hb_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int hb_epoll_add(int epoll_fd, int fd, uint64_t token) {
    struct epoll_event event = { .events = EPOLLIN, .data.u64 = token };
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0 ? 0 : errno;
}

int hb_epoll_remove(int epoll_fd, int fd) {
    return epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL) == 0 ? 0 : errno;
}

int hb_epoll_wait(int epoll_fd, uint64_t *tokens, uint32_t *events, int capacity, int timeout_ms) {
    struct epoll_event ready[64];
    if (capacity > 64) capacity = 64;
    int count = epoll_wait(epoll_fd, ready, capacity, timeout_ms);
    if (count < 0) return -errno;
    for (int i = 0; i < count; i++) {
        tokens[i] = ready[i].data.u64;
        events[i] = ready[i].events;
    }
    return count;
}
