// SPDX-License-Identifier: GPL-2.0 OR MIT
// warden's eBPF observer: every exec and connect on the machine goes to a
// ring buffer (read by `warden watch`), and the connect hooks of the cgroups
// warden was asked to guard refuse the ports denied to them.
//
// Execs are seen at sched_process_exec and connects by the cgroup v2 root's
// connect hooks, not on the syscall tracepoints: a program on any syscall
// tracepoint puts every syscall of every process on the kernel's slow entry
// path (measured here: +50 ns on each getppid, machine-wide), while these
// cost only the execs and connects themselves. (kprobes and fentry would
// do for connects too, but kernels without kprobes or BPF trampolines for
// tracing are common in VMs; the cgroup hooks are there wherever cgroup v2
// is.)
//
// Built with Debian's clang (`-target bpf`); no vmlinux.h: it reads
// `struct bpf_sock_addr`, and a few fields of task_struct, mm_struct and
// linux_binprm through CO-RE relocations.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

// The fields read of the kernel's task_struct and mm_struct, relocated by
// name against the running kernel's BTF when the object is loaded (CO-RE):
// no header of any one kernel is compiled in.
struct mm_struct {
    unsigned long arg_start;
    unsigned long arg_end;
} __attribute__((preserve_access_index));

struct task_struct {
    struct task_struct *real_parent;
    int tgid;
    struct mm_struct *mm;
} __attribute__((preserve_access_index));

struct linux_binprm {
    const char *filename;
    const char *interp;
} __attribute__((preserve_access_index));

#define PATH_LEN 256
// The arguments as the new program has them: NUL-terminated, one after
// another, read in one copy. Longer command lines are cut and marked.
#define ARGS_LEN 2048

#define KIND_EXEC 1
#define KIND_CONNECT 2

// Must match crates/ebpf/src/event.rs. Every record starts with the process.
struct process {
    __u32 kind;
    __u32 pid;      // thread group id (what user space calls the pid)
    __u32 uid;
    __u32 ppid;     // the parent's thread group id
    __u64 cgroup;   // cgroup v2 id
    char comm[16];
};

// exec_event.flags
#define EXEC_TRUNCATED 1 // the command line was longer than ARGS_LEN
#define EXEC_SCRIPT 2    // an interpreter runs the file (#!, binfmt_misc)

struct exec_event {
    struct process process;
    __u32 args_len;  // bytes of args read
    __u32 flags;     // EXEC_*
    char path[PATH_LEN];
    char args[ARGS_LEN];
};

struct connect_event {
    struct process process;
    __u16 family;
    __u16 port;     // host order
    __u32 reserved;
    __u8 addr[16];
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

// User space polls the ring buffer (every few milliseconds), so a submit
// never needs to wake it: no interrupt work is queued per event.
static __always_inline void finish(void *e) {
    bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

// Reserves a record of `size` bytes and fills its process part (`task` is
// the current task, as the caller has it at hand); ring buffer
// memory is not zeroed, so the caller sets every other field it has.
static __always_inline void *start(__u64 size, __u32 kind, struct task_struct *task) {
    struct process *p = bpf_ringbuf_reserve(&EVENTS, size, 0);
    if (!p) {
        __u32 zero = 0;
        __u64 *n = bpf_map_lookup_elem(&DROPPED, &zero);
        if (n)
            __sync_fetch_and_add(n, 1);
        return 0;
    }
    p->kind = kind;
    p->pid = bpf_get_current_pid_tgid() >> 32;
    p->uid = (__u32)bpf_get_current_uid_gid();
    p->ppid = BPF_CORE_READ(task, real_parent, tgid);
    p->cgroup = bpf_get_current_cgroup_id();
    bpf_get_current_comm(p->comm, sizeof(p->comm));
    return p;
}

// After a successful exec, in the new program before it runs (the raw
// tracepoint: its arguments are the task, the old pid and the binprm). The
// path and arguments are the kernel's copies (the filename given, the
// strings it put on the new stack), so no other thread of the caller can
// change them between the syscall and this read. comm is the new program's
// name. For a script the kernel has replaced argv[0] by the interpreter (and
// its #! argument) and the script's path; it marks that by an interp of its
// own, which is told here.
SEC("raw_tracepoint/sched_process_exec")
int exec_observed(struct bpf_raw_tracepoint_args *ctx) {
    struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
    // The tracepoint's own task is the one exec'ing (current).
    struct task_struct *task = (struct task_struct *)ctx->args[0];
    struct exec_event *e = start(sizeof(struct exec_event), KIND_EXEC, task);
    if (!e)
        return 0;
    e->args_len = 0;
    e->flags = 0;
    const char *filename = BPF_CORE_READ(bprm, filename);
    if (filename != BPF_CORE_READ(bprm, interp))
        e->flags |= EXEC_SCRIPT;
    if (bpf_probe_read_kernel_str(e->path, sizeof(e->path), filename) < 0)
        e->path[0] = 0;
    unsigned long from = BPF_CORE_READ(task, mm, arg_start);
    unsigned long to = BPF_CORE_READ(task, mm, arg_end);
    __u64 len = to > from ? to - from : 0;
    if (len > ARGS_LEN) {
        len = ARGS_LEN;
        e->flags |= EXEC_TRUNCATED;
    }
    if (len && !bpf_probe_read_user(e->args, len, (const void *)from))
        e->args_len = len;
    finish(e);
    return 0;
}

// Every IPv4 and IPv6 connect (TCP and UDP):
// these two run on the cgroup v2 root for every process under it, allowing
// every connect (refusals are the guards' below), before the connect is
// made. ctx holds the address as the caller passed it, in network order.
static __always_inline int observe_connect(struct bpf_sock_addr *ctx, __u16 family) {
    struct connect_event *e = start(sizeof(struct connect_event), KIND_CONNECT,
                                    (struct task_struct *)bpf_get_current_task());
    if (!e)
        return 1;
    e->family = family;
    e->port = bpf_ntohs((__u16)ctx->user_port);
    e->reserved = 0;
    __builtin_memset(e->addr, 0, sizeof(e->addr));
    if (family == 2) {
        __u32 ip4 = ctx->user_ip4;
        __builtin_memcpy(e->addr, &ip4, 4);
    } else {
        __u32 ip6[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]};
        __builtin_memcpy(e->addr, ip6, 16);
    }
    finish(e);
    return 1;
}

SEC("cgroup/connect4")
int connect4_observed(struct bpf_sock_addr *ctx) {
    return observe_connect(ctx, 2);
}

SEC("cgroup/connect6")
int connect6_observed(struct bpf_sock_addr *ctx) {
    return observe_connect(ctx, 10);
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
