// SPDX-License-Identifier: GPL-2.0 OR MIT
// warden's eBPF observer: every execve and connect on the machine goes to a
// ring buffer (read by `warden watch`), and the connect hooks of the cgroups
// warden was asked to guard refuse the ports denied to them.
//
// Built with Debian's clang (`-target bpf`); no vmlinux.h: it reads the
// stable syscall tracepoint layout, `struct bpf_sock_addr`, and one field of
// task_struct through a CO-RE relocation.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

// The two fields read of the kernel's task_struct, relocated by name against
// the running kernel's BTF when the object is loaded (CO-RE): no header of
// any one kernel is compiled in.
struct task_struct {
    struct task_struct *real_parent;
    int tgid;
} __attribute__((preserve_access_index));

#define MAX_ARGS 16
#define ARG_LEN 128
#define PATH_LEN 256

#define KIND_EXEC 1
#define KIND_CONNECT 2

// Must match crates/ebpf/src/event.rs.
struct event {
    __u32 kind;
    __u32 pid;      // thread group id (what user space calls the pid)
    __u32 uid;
    __u32 argc;     // arguments read (at most MAX_ARGS)
    __u64 cgroup;   // cgroup v2 id
    char comm[16];
    char path[PATH_LEN];
    char argv[MAX_ARGS][ARG_LEN];
    __u16 family;
    __u16 port;     // host order
    __u8 addr[16];
    __u32 truncated; // more arguments than MAX_ARGS
    __u32 ppid;      // the parent's thread group id
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 22);
} EVENTS SEC(".maps");

// Counts events the ring buffer had no room for: user space reports them.
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} DROPPED SEC(".maps");

// (cgroup id, port) -> 1: connects from that cgroup to that port are refused.
struct cgroup_port {
    __u64 cgroup;
    __u64 port;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, struct cgroup_port);
    __type(value, __u8);
} DENIED SEC(".maps");

// The syscall tracepoints' fixed layout: the common header, the syscall
// number, then six argument slots.
struct syscall_enter {
    __u64 common;
    __s64 nr;
    __u64 args[6];
};

// User space polls the ring buffer (every few milliseconds), so a submit
// never needs to wake it: no interrupt work is queued per event.
static __always_inline void finish(struct event *e) {
    bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

static __always_inline struct event *start(__u32 kind) {
    struct event *e = bpf_ringbuf_reserve(&EVENTS, sizeof(*e), 0);
    if (!e) {
        __u32 zero = 0;
        __u64 *n = bpf_map_lookup_elem(&DROPPED, &zero);
        if (n)
            __sync_fetch_and_add(n, 1);
        return 0;
    }
    // Ring buffer memory is not zeroed, and the event is too large for one
    // memset: every field is set here or where it is filled.
    e->kind = kind;
    e->argc = 0;
    e->truncated = 0;
    e->family = 0;
    e->port = 0;
    e->path[0] = 0;
    __builtin_memset(e->addr, 0, sizeof(e->addr));
    e->pid = bpf_get_current_pid_tgid() >> 32;
    e->uid = (__u32)bpf_get_current_uid_gid();
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    e->ppid = BPF_CORE_READ(task, real_parent, tgid);
    e->cgroup = bpf_get_current_cgroup_id();
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    return e;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int exec_enter(struct syscall_enter *ctx) {
    struct event *e = start(KIND_EXEC);
    if (!e)
        return 0;
    if (bpf_probe_read_user_str(e->path, sizeof(e->path), (const char *)ctx->args[0]) < 0)
        e->path[0] = 0;
    const char *const *argv = (const char *const *)ctx->args[1];
    for (int i = 0; i < MAX_ARGS; i++) {
        const char *arg = 0;
        if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
            break;
        if (bpf_probe_read_user_str(e->argv[i], ARG_LEN, arg) < 0)
            e->argv[i][0] = 0;
        e->argc = i + 1;
    }
    if (e->argc == MAX_ARGS) {
        const char *more = 0;
        if (!bpf_probe_read_user(&more, sizeof(more), &argv[MAX_ARGS]) && more)
            e->truncated = 1;
    }
    finish(e);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int connect_enter(struct syscall_enter *ctx) {
    struct sockaddr_head {
        __u16 family;
        __u16 port;
        __u32 addr4;
    } head = {};
    const void *uaddr = (const void *)ctx->args[1];
    if (bpf_probe_read_user(&head, sizeof(head), uaddr))
        return 0;
    // Unix sockets and the rest: only IP leaves the machine.
    if (head.family != 2 && head.family != 10)
        return 0;
    struct event *e = start(KIND_CONNECT);
    if (!e)
        return 0;
    e->family = head.family;
    e->port = bpf_ntohs(head.port);
    if (head.family == 2)
        __builtin_memcpy(e->addr, &head.addr4, 4);
    else
        bpf_probe_read_user(e->addr, 16, (const char *)uaddr + 8);
    finish(e);
    return 0;
}

static __always_inline int allowed(__u32 user_port) {
    struct cgroup_port key = {
        .cgroup = bpf_get_current_cgroup_id(),
        .port = bpf_ntohs((__u16)user_port),
    };
    return bpf_map_lookup_elem(&DENIED, &key) ? 0 : 1;
}

SEC("cgroup/connect4")
int guard_connect4(struct bpf_sock_addr *ctx) {
    return allowed(ctx->user_port);
}

SEC("cgroup/connect6")
int guard_connect6(struct bpf_sock_addr *ctx) {
    return allowed(ctx->user_port);
}

// cgroup id -> 1: execs in that cgroup are refused, where the kernel lets a
// BPF LSM program load (the bpf LSM active and BPF_PROG_TYPE_LSM built in).
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u64);
    __type(value, __u8);
} MARKED SEC(".maps");

SEC("lsm/bprm_check_security")
int deny_marked_exec(void *ctx) {
    __u64 cgroup = bpf_get_current_cgroup_id();
    return bpf_map_lookup_elem(&MARKED, &cgroup) ? -1 : 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
