/* The restricted pickle VM. Design:
 * - every object the VM creates is chained into one list and freed at the
 *   end, so shared references (memo, BINGET) and even cycles need no
 *   reference counting and no recursion;
 * - strings point into the input (which outlives the VM) and are copied
 *   only for the result;
 * - "callables" are enum markers from a fixed allow-list; REDUCE dispatches
 *   on the marker and checks its arguments, so no input can reach code
 *   other than building dicts and describing tensors;
 * - every read is bounded by the input, every index by the memo/stack,
 *   every allocation by the limits in pickle_vm.h. */
#include "formats/pickle_vm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/half.h"

typedef enum pk_kind {
    PK_NONE, PK_BOOL, PK_INT, PK_FLOAT, PK_STR, PK_TUPLE, PK_LIST, PK_DICT,
    PK_GLOBAL, PK_STORAGE, PK_TENSOR
} pk_kind;

static const char *const kind_names[] = {
    "None", "bool", "int", "float", "str", "tuple", "list", "dict",
    "global", "storage", "tensor"
};

typedef enum pk_global {
    G_ORDERED_DICT, G_REBUILD_TENSOR_V2, G_REBUILD_PARAMETER, G_STORAGE_TYPE
} pk_global;

typedef struct pk_obj pk_obj;
struct pk_obj {
    pk_kind kind;
    pk_obj *next; /* allocation chain */
    union {
        int64_t i;   /* PK_BOOL, PK_INT */
        double f;
        struct { const char *s; size_t len; } str;
        struct { pk_obj **items; size_t n, cap; } seq; /* tuple, list; dict: key, value pairs */
        struct { pk_global which; qat_torch_dtype dtype; } global;
        struct { qat_torch_dtype dtype; const char *key; size_t key_len; int64_t numel; } storage;
        struct pk_tensor *tensor; /* separate: keeps every other object small */
    } u;
};

typedef struct pk_tensor {
    pk_obj *storage;
    int64_t offset;
    int ndim;
    int64_t size[QAT_TENSOR_MAX_DIMS], stride[QAT_TENSOR_MAX_DIMS];
} pk_tensor;

typedef struct pk_vm {
    const uint8_t *data;
    size_t size, pos;
    size_t op_pos; /* offset of the opcode being run, for messages */
    const char *label;
    qat_torch_pickle_limits limits;
    pk_obj *objects;
    size_t n_objects;
    size_t n_items; /* elements appended to tuples, lists and dicts */
    pk_obj **stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t n_marks, marks_cap;
    pk_obj **memo;
    size_t memo_cap, memo_len;
} pk_vm;

static const struct {
    const char *name;
    qat_torch_dtype dtype;
    int size;
} storage_types[] = {
    {"FloatStorage", QAT_TORCH_F32, 4}, {"HalfStorage", QAT_TORCH_F16, 2},
    {"BFloat16Storage", QAT_TORCH_BF16, 2}, {"DoubleStorage", QAT_TORCH_F64, 8},
    {"LongStorage", QAT_TORCH_I64, 8}, {"IntStorage", QAT_TORCH_I32, 4},
    {"ShortStorage", QAT_TORCH_I16, 2}, {"CharStorage", QAT_TORCH_I8, 1},
    {"ByteStorage", QAT_TORCH_U8, 1}, {"BoolStorage", QAT_TORCH_BOOL, 1},
};
#define N_STORAGE_TYPES (sizeof storage_types / sizeof storage_types[0])

const char *qat_torch_dtype_name(qat_torch_dtype dtype)
{
    for (size_t i = 0; i < N_STORAGE_TYPES; i++)
        if (storage_types[i].dtype == dtype)
            return storage_types[i].name;
    return "?";
}

int qat_torch_dtype_size(qat_torch_dtype dtype)
{
    for (size_t i = 0; i < N_STORAGE_TYPES; i++)
        if (storage_types[i].dtype == dtype)
            return storage_types[i].size;
    return 0;
}

static qat_status vm_fail(const pk_vm *vm, const char *fmt, ...) QAT_PRINTF(2, 3);
static qat_status vm_fail(const pk_vm *vm, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qat_fail(QAT_ERR_FORMAT, "%s: refused pickle at byte %zu: %s", vm->label, vm->op_pos, msg);
}

static qat_status new_obj(pk_vm *vm, pk_kind kind, pk_obj **out)
{
    if (vm->n_objects >= vm->limits.max_objects)
        return vm_fail(vm, "more than %zu objects", vm->limits.max_objects);
    pk_obj *o = calloc(1, sizeof *o);
    if (!o)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", vm->label);
    o->kind = kind;
    o->next = vm->objects;
    vm->objects = o;
    vm->n_objects++;
    *out = o;
    return QAT_OK;
}

static qat_status push(pk_vm *vm, pk_obj *o)
{
    if (vm->sp == vm->stack_cap) {
        if (vm->stack_cap >= vm->limits.max_stack)
            return vm_fail(vm, "stack deeper than %zu", vm->limits.max_stack);
        size_t cap = vm->stack_cap ? vm->stack_cap * 2 : 64;
        if (cap > vm->limits.max_stack)
            cap = vm->limits.max_stack;
        pk_obj **s = realloc(vm->stack, cap * sizeof *s);
        if (!s)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", vm->label);
        vm->stack = s;
        vm->stack_cap = cap;
    }
    vm->stack[vm->sp++] = o;
    return QAT_OK;
}

/* The lowest stack index usable by the current opcode: objects below the
 * innermost MARK belong to an enclosing construct. */
static size_t stack_floor(const pk_vm *vm)
{
    return vm->n_marks ? vm->marks[vm->n_marks - 1] : 0;
}

static qat_status pop(pk_vm *vm, pk_obj **out)
{
    if (vm->sp <= stack_floor(vm))
        return vm_fail(vm, "stack underflow");
    *out = vm->stack[--vm->sp];
    return QAT_OK;
}

static qat_status top(pk_vm *vm, pk_obj **out)
{
    if (vm->sp <= stack_floor(vm))
        return vm_fail(vm, "stack underflow");
    *out = vm->stack[vm->sp - 1];
    return QAT_OK;
}

/* Pops the innermost MARK; *first = stack index of the first marked item. */
static qat_status pop_mark(pk_vm *vm, size_t *first)
{
    if (vm->n_marks == 0)
        return vm_fail(vm, "no MARK on the stack");
    *first = vm->marks[--vm->n_marks];
    return QAT_OK;
}

static qat_status seq_append(pk_vm *vm, pk_obj *seq, pk_obj *item)
{
    if (++vm->n_items > vm->limits.max_items)
        return vm_fail(vm, "more than %zu container elements", vm->limits.max_items);
    if (seq->u.seq.n == seq->u.seq.cap) {
        size_t cap = seq->u.seq.cap ? seq->u.seq.cap * 2 : 4;
        pk_obj **items = realloc(seq->u.seq.items, cap * sizeof *items);
        if (!items)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", vm->label);
        seq->u.seq.items = items;
        seq->u.seq.cap = cap;
    }
    seq->u.seq.items[seq->u.seq.n++] = item;
    return QAT_OK;
}

/* A tuple of stack[first..sp), which it pops. */
static qat_status make_tuple(pk_vm *vm, size_t first)
{
    pk_obj *t = NULL;
    QAT_TRY(new_obj(vm, PK_TUPLE, &t));
    for (size_t i = first; i < vm->sp; i++)
        QAT_TRY(seq_append(vm, t, vm->stack[i]));
    vm->sp = first;
    return push(vm, t);
}

static qat_status need(pk_vm *vm, size_t n, const uint8_t **p)
{
    if (vm->size - vm->pos < n)
        return vm_fail(vm, "truncated: opcode needs %zu more bytes", n);
    *p = vm->data + vm->pos;
    vm->pos += n;
    return QAT_OK;
}

static int valid_utf8(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (len == 0 || len > n - i || (len == 2 && c < 0xc2))
            return 0;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
        i += len;
    }
    return 1;
}

static qat_status push_string(pk_vm *vm, uint64_t len)
{
    const uint8_t *p = NULL;
    if (len > vm->size - vm->pos)
        return vm_fail(vm, "string of %llu bytes runs past the end", (unsigned long long)len);
    QAT_TRY(need(vm, (size_t)len, &p));
    if (memchr(p, 0, (size_t)len) || !valid_utf8(p, (size_t)len))
        return vm_fail(vm, "string is not valid UTF-8 or contains a NUL");
    pk_obj *o = NULL;
    QAT_TRY(new_obj(vm, PK_STR, &o));
    o->u.str.s = (const char *)p;
    o->u.str.len = (size_t)len;
    return push(vm, o);
}

static qat_status push_int(pk_vm *vm, pk_kind kind, int64_t v)
{
    pk_obj *o = NULL;
    QAT_TRY(new_obj(vm, kind, &o));
    o->u.i = v;
    return push(vm, o);
}

static int str_is(const pk_obj *o, const char *s)
{
    return o->kind == PK_STR && o->u.str.len == strlen(s) && memcmp(o->u.str.s, s, o->u.str.len) == 0;
}

/* The allow-list. Everything else is refused, loudly: a state dict needs
 * nothing more, and a pickle that asks for more is not a state dict. */
static qat_status resolve_global(pk_vm *vm, const char *module, size_t mlen, const char *name,
                                 size_t nlen)
{
    pk_obj *g = NULL;
    QAT_TRY(new_obj(vm, PK_GLOBAL, &g));
#define IS(str, len, lit) ((len) == sizeof(lit) - 1 && memcmp((str), (lit), (len)) == 0)
    if (IS(module, mlen, "collections") && IS(name, nlen, "OrderedDict")) {
        g->u.global.which = G_ORDERED_DICT;
    } else if (IS(module, mlen, "torch._utils") && IS(name, nlen, "_rebuild_tensor_v2")) {
        g->u.global.which = G_REBUILD_TENSOR_V2;
    } else if (IS(module, mlen, "torch._utils") && IS(name, nlen, "_rebuild_parameter")) {
        g->u.global.which = G_REBUILD_PARAMETER;
    } else {
        int found = 0;
        if (IS(module, mlen, "torch")) {
            for (size_t i = 0; i < N_STORAGE_TYPES && !found; i++) {
                if (nlen == strlen(storage_types[i].name) &&
                    memcmp(name, storage_types[i].name, nlen) == 0) {
                    g->u.global.which = G_STORAGE_TYPE;
                    g->u.global.dtype = storage_types[i].dtype;
                    found = 1;
                }
            }
        }
        if (!found)
            return vm_fail(vm, "global '%.*s.%.*s' is not allowed (only collections.OrderedDict, "
                           "torch._utils._rebuild_tensor_v2/_rebuild_parameter and torch.*Storage "
                           "occur in a state dict; this file may be malicious)",
                           (int)(mlen > 100 ? 100 : mlen), module, (int)(nlen > 100 ? 100 : nlen),
                           name);
    }
#undef IS
    return push(vm, g);
}

/* GLOBAL: "module\nname\n" in the opcode stream. */
static qat_status op_global(pk_vm *vm)
{
    const char *parts[2];
    size_t lens[2];
    for (int k = 0; k < 2; k++) {
        const uint8_t *start = vm->data + vm->pos;
        size_t room = vm->size - vm->pos;
        const uint8_t *nl = memchr(start, '\n', room > 256 ? 256 : room);
        if (!nl)
            return vm_fail(vm, "GLOBAL name not terminated within 256 bytes");
        parts[k] = (const char *)start;
        lens[k] = (size_t)(nl - start);
        vm->pos += lens[k] + 1;
    }
    return resolve_global(vm, parts[0], lens[0], parts[1], lens[1]);
}

static qat_status op_stack_global(pk_vm *vm)
{
    pk_obj *name = NULL, *module = NULL;
    QAT_TRY(pop(vm, &name));
    QAT_TRY(pop(vm, &module));
    if (name->kind != PK_STR || module->kind != PK_STR)
        return vm_fail(vm, "STACK_GLOBAL needs two strings");
    return resolve_global(vm, module->u.str.s, module->u.str.len, name->u.str.s, name->u.str.len);
}

static qat_status memo_put(pk_vm *vm, uint64_t idx)
{
    pk_obj *o = NULL;
    QAT_TRY(top(vm, &o));
    /* Real pickles number memo slots 0, 1, 2...: each needs an opcode, so a
     * legitimate index is below the input size. This bounds the table. */
    if (idx >= vm->size)
        return vm_fail(vm, "memo index %llu out of range", (unsigned long long)idx);
    if (idx >= vm->memo_cap) {
        size_t cap = vm->memo_cap ? vm->memo_cap : 64;
        while (cap <= idx)
            cap *= 2;
        pk_obj **m = realloc(vm->memo, cap * sizeof *m);
        if (!m)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", vm->label);
        memset(m + vm->memo_cap, 0, (cap - vm->memo_cap) * sizeof *m);
        vm->memo = m;
        vm->memo_cap = cap;
    }
    if (!vm->memo[idx])
        vm->memo_len++;
    vm->memo[idx] = o;
    return QAT_OK;
}

static qat_status memo_get(pk_vm *vm, uint64_t idx)
{
    if (idx >= vm->memo_cap || !vm->memo[idx])
        return vm_fail(vm, "memo index %llu was never stored", (unsigned long long)idx);
    return push(vm, vm->memo[idx]);
}

/* BINPERSID with ('storage', torch.XStorage, key, location, numel). */
static qat_status op_persid(pk_vm *vm)
{
    pk_obj *pid = NULL;
    QAT_TRY(pop(vm, &pid));
    if (pid->kind != PK_TUPLE || pid->u.seq.n != 5)
        return vm_fail(vm, "persistent id must be a 5-tuple ('storage', type, key, location, numel)");
    pk_obj **f = pid->u.seq.items;
    if (!str_is(f[0], "storage"))
        return vm_fail(vm, "persistent id must start with 'storage'");
    if (f[1]->kind != PK_GLOBAL || f[1]->u.global.which != G_STORAGE_TYPE)
        return vm_fail(vm, "persistent id: second field must be a torch storage type");
    if (f[2]->kind != PK_STR || f[2]->u.str.len == 0 || f[2]->u.str.len > 64 ||
        memchr(f[2]->u.str.s, '/', f[2]->u.str.len) || str_is(f[2], "..") || str_is(f[2], "."))
        return vm_fail(vm, "persistent id: storage key must be a short name without '/'");
    if (f[3]->kind != PK_STR)
        return vm_fail(vm, "persistent id: location must be a string");
    if (f[4]->kind != PK_INT || f[4]->u.i < 0 || f[4]->u.i > ((int64_t)1 << 60))
        return vm_fail(vm, "persistent id: storage size must be a non-negative integer");
    pk_obj *s = NULL;
    QAT_TRY(new_obj(vm, PK_STORAGE, &s));
    s->u.storage.dtype = f[1]->u.global.dtype;
    s->u.storage.key = f[2]->u.str.s;
    s->u.storage.key_len = f[2]->u.str.len;
    s->u.storage.numel = f[4]->u.i;
    return push(vm, s);
}

static qat_status int_tuple(pk_vm *vm, const pk_obj *t, const char *what, int *n, int64_t *v)
{
    if (t->kind != PK_TUPLE)
        return vm_fail(vm, "tensor %s must be a tuple, found %s", what, kind_names[t->kind]);
    if (t->u.seq.n > QAT_TENSOR_MAX_DIMS)
        return vm_fail(vm, "tensor has %zu dimensions, at most %d are supported", t->u.seq.n,
                       QAT_TENSOR_MAX_DIMS);
    *n = (int)t->u.seq.n;
    for (int d = 0; d < *n; d++) {
        const pk_obj *x = t->u.seq.items[d];
        if (x->kind != PK_INT || x->u.i < 0)
            return vm_fail(vm, "tensor %s[%d] must be a non-negative integer", what, d);
        v[d] = x->u.i;
    }
    return QAT_OK;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
 * backward_hooks[, metadata]): checks the view lies in the storage. */
static qat_status rebuild_tensor(pk_vm *vm, pk_obj *args, pk_obj **out)
{
    size_t n = args->u.seq.n;
    pk_obj **a = args->u.seq.items;
    if (n != 6 && n != 7)
        return vm_fail(vm, "_rebuild_tensor_v2 takes 6 or 7 arguments, got %zu", n);
    if (a[0]->kind != PK_STORAGE)
        return vm_fail(vm, "_rebuild_tensor_v2: first argument must be a storage, found %s",
                       kind_names[a[0]->kind]);
    if (a[1]->kind != PK_INT || a[1]->u.i < 0)
        return vm_fail(vm, "_rebuild_tensor_v2: storage offset must be a non-negative integer");
    if (a[4]->kind != PK_BOOL)
        return vm_fail(vm, "_rebuild_tensor_v2: requires_grad must be a bool");
    if (a[5]->kind != PK_DICT)
        return vm_fail(vm, "_rebuild_tensor_v2: backward hooks must be an OrderedDict");
    if (n == 7 && a[6]->kind != PK_NONE && a[6]->kind != PK_DICT)
        return vm_fail(vm, "_rebuild_tensor_v2: metadata must be None or a dict");
    pk_obj *obj = NULL;
    QAT_TRY(new_obj(vm, PK_TENSOR, &obj));
    pk_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", vm->label);
    obj->u.tensor = t;
    int nsize, nstride;
    QAT_TRY(int_tuple(vm, a[2], "size", &nsize, t->size));
    QAT_TRY(int_tuple(vm, a[3], "stride", &nstride, t->stride));
    if (nsize != nstride)
        return vm_fail(vm, "tensor has %d sizes but %d strides", nsize, nstride);
    t->storage = a[0];
    t->offset = a[1]->u.i;
    t->ndim = nsize;
    /* Last element addressed: offset + sum((size_d - 1) * stride_d). */
    int64_t last = a[1]->u.i, numel = 1;
    int empty = 0;
    for (int d = 0; d < nsize; d++) {
        int64_t step;
        if (t->size[d] == 0)
            empty = 1;
        if (__builtin_mul_overflow(numel, t->size[d], &numel) ||
            __builtin_mul_overflow(t->size[d] ? t->size[d] - 1 : 0, t->stride[d], &step) ||
            __builtin_add_overflow(last, step, &last))
            return vm_fail(vm, "tensor sizes/strides overflow");
    }
    int64_t have = a[0]->u.storage.numel;
    if (!empty && last >= have)
        return vm_fail(vm, "tensor view reaches element %lld of a storage of %lld elements",
                       (long long)last, (long long)have);
    if (empty && a[1]->u.i > have)
        return vm_fail(vm, "storage offset %lld beyond a storage of %lld elements",
                       (long long)a[1]->u.i, (long long)have);
    *out = obj;
    return QAT_OK;
}

static qat_status op_reduce(pk_vm *vm)
{
    pk_obj *args = NULL, *fn = NULL, *result = NULL;
    QAT_TRY(pop(vm, &args));
    QAT_TRY(pop(vm, &fn));
    if (fn->kind != PK_GLOBAL)
        return vm_fail(vm, "REDUCE on a %s, not an allowed callable", kind_names[fn->kind]);
    if (args->kind != PK_TUPLE)
        return vm_fail(vm, "REDUCE arguments must be a tuple, found %s", kind_names[args->kind]);
    switch (fn->u.global.which) {
    case G_ORDERED_DICT:
        if (args->u.seq.n != 0)
            return vm_fail(vm, "OrderedDict() must be called without arguments");
        QAT_TRY(new_obj(vm, PK_DICT, &result));
        break;
    case G_REBUILD_TENSOR_V2:
        QAT_TRY(rebuild_tensor(vm, args, &result));
        break;
    case G_REBUILD_PARAMETER:
        /* _rebuild_parameter(data, requires_grad, backward_hooks) -> data */
        if (args->u.seq.n != 3 || args->u.seq.items[0]->kind != PK_TENSOR ||
            args->u.seq.items[1]->kind != PK_BOOL || args->u.seq.items[2]->kind != PK_DICT)
            return vm_fail(vm, "_rebuild_parameter takes (tensor, bool, OrderedDict)");
        result = args->u.seq.items[0];
        break;
    case G_STORAGE_TYPE:
        return vm_fail(vm, "a storage type cannot be called");
    }
    return push(vm, result);
}

static qat_status op_setitems(pk_vm *vm, int many)
{
    size_t first = 0;
    if (many) {
        QAT_TRY(pop_mark(vm, &first));
    } else {
        if (vm->sp < stack_floor(vm) + 2)
            return vm_fail(vm, "stack underflow");
        first = vm->sp - 2;
    }
    if (first == 0 || first - 1 < stack_floor(vm))
        return vm_fail(vm, "SETITEM(S) without a dict below");
    pk_obj *dict = vm->stack[first - 1];
    if (dict->kind != PK_DICT)
        return vm_fail(vm, "SETITEM(S) on a %s, not a dict", kind_names[dict->kind]);
    if ((vm->sp - first) % 2)
        return vm_fail(vm, "SETITEMS with an odd number of items");
    /* Keys are appended, not deduplicated: a repeated tensor name is refused
     * when the state dict is read out (python would keep the last one). */
    for (size_t i = first; i < vm->sp; i++)
        QAT_TRY(seq_append(vm, dict, vm->stack[i]));
    vm->sp = first;
    return QAT_OK;
}

static qat_status op_appends(pk_vm *vm, int many)
{
    size_t first = 0;
    if (many) {
        QAT_TRY(pop_mark(vm, &first));
    } else {
        if (vm->sp < stack_floor(vm) + 1)
            return vm_fail(vm, "stack underflow");
        first = vm->sp - 1;
    }
    if (first == 0 || first - 1 < stack_floor(vm))
        return vm_fail(vm, "APPEND(S) without a list below");
    pk_obj *list = vm->stack[first - 1];
    if (list->kind != PK_LIST)
        return vm_fail(vm, "APPEND(S) on a %s, not a list", kind_names[list->kind]);
    for (size_t i = first; i < vm->sp; i++)
        QAT_TRY(seq_append(vm, list, vm->stack[i]));
    vm->sp = first;
    return QAT_OK;
}

/* BUILD sets an object's state: only the OrderedDict's `_metadata`
 * attribute of a state dict occurs, and it is not needed. */
static qat_status op_build(pk_vm *vm)
{
    pk_obj *state = NULL, *target = NULL;
    QAT_TRY(pop(vm, &state));
    QAT_TRY(top(vm, &target));
    if (target->kind != PK_DICT || (state->kind != PK_DICT && state->kind != PK_NONE))
        return vm_fail(vm, "BUILD of a %s with a %s state is not part of a state dict",
                       kind_names[target->kind], kind_names[state->kind]);
    return QAT_OK;
}

static qat_status run(pk_vm *vm, pk_obj **result)
{
    const uint8_t *p = NULL;
    for (;;) {
        vm->op_pos = vm->pos;
        QAT_TRY(need(vm, 1, &p));
        uint8_t op = *p;
        pk_obj *o = NULL;
        switch (op) {
        case 0x80: /* PROTO */
            QAT_TRY(need(vm, 1, &p));
            if (*p < 2 || *p > 5)
                return vm_fail(vm, "pickle protocol %u is not supported (2..5)", *p);
            break;
        case 0x95: /* FRAME: a length hint only */
            QAT_TRY(need(vm, 8, &p));
            if (qat_load_le64(p) > vm->size - vm->pos)
                return vm_fail(vm, "FRAME runs past the end");
            break;
        case '.': /* STOP */
            QAT_TRY(pop(vm, result));
            return QAT_OK;
        case '}': QAT_TRY(new_obj(vm, PK_DICT, &o)); QAT_TRY(push(vm, o)); break;
        case ']': QAT_TRY(new_obj(vm, PK_LIST, &o)); QAT_TRY(push(vm, o)); break;
        case ')': QAT_TRY(new_obj(vm, PK_TUPLE, &o)); QAT_TRY(push(vm, o)); break;
        case 'N': QAT_TRY(new_obj(vm, PK_NONE, &o)); QAT_TRY(push(vm, o)); break;
        case 0x88: QAT_TRY(push_int(vm, PK_BOOL, 1)); break; /* NEWTRUE */
        case 0x89: QAT_TRY(push_int(vm, PK_BOOL, 0)); break; /* NEWFALSE */
        case '(': /* MARK */
            if (vm->n_marks == vm->marks_cap) {
                if (vm->marks_cap >= vm->limits.max_marks)
                    return vm_fail(vm, "MARKs nested deeper than %zu", vm->limits.max_marks);
                size_t cap = vm->marks_cap ? vm->marks_cap * 2 : 16;
                if (cap > vm->limits.max_marks)
                    cap = vm->limits.max_marks;
                size_t *m = realloc(vm->marks, cap * sizeof *m);
                if (!m)
                    return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", vm->label);
                vm->marks = m;
                vm->marks_cap = cap;
            }
            vm->marks[vm->n_marks++] = vm->sp;
            break;
        case 'X': QAT_TRY(need(vm, 4, &p)); QAT_TRY(push_string(vm, qat_load_le32(p))); break;
        case 0x8d: QAT_TRY(need(vm, 8, &p)); QAT_TRY(push_string(vm, qat_load_le64(p))); break;
        case 0x8c: QAT_TRY(need(vm, 1, &p)); QAT_TRY(push_string(vm, *p)); break;
        case 'J': QAT_TRY(need(vm, 4, &p)); QAT_TRY(push_int(vm, PK_INT, (int32_t)qat_load_le32(p))); break;
        case 'K': QAT_TRY(need(vm, 1, &p)); QAT_TRY(push_int(vm, PK_INT, *p)); break;
        case 'M': QAT_TRY(need(vm, 2, &p)); QAT_TRY(push_int(vm, PK_INT, qat_load_le16(p))); break;
        case 0x8a: { /* LONG1: little-endian two's complement, n bytes */
            QAT_TRY(need(vm, 1, &p));
            size_t n = *p;
            if (n > 8)
                return vm_fail(vm, "integer of %zu bytes does not fit 64 bits", n);
            QAT_TRY(need(vm, n, &p));
            uint64_t v = 0;
            for (size_t i = 0; i < n; i++)
                v |= (uint64_t)p[i] << (8 * i);
            if (n > 0 && n < 8 && (p[n - 1] & 0x80))
                v |= ~(uint64_t)0 << (8 * n); /* sign-extend */
            QAT_TRY(push_int(vm, PK_INT, (int64_t)v));
            break;
        }
        case 'G': { /* BINFLOAT: big-endian double */
            QAT_TRY(need(vm, 8, &p));
            uint64_t bits = 0;
            for (int i = 0; i < 8; i++)
                bits = (bits << 8) | p[i];
            QAT_TRY(new_obj(vm, PK_FLOAT, &o));
            memcpy(&o->u.f, &bits, sizeof o->u.f);
            QAT_TRY(push(vm, o));
            break;
        }
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            size_t n = (size_t)(op - 0x84);
            if (vm->sp < stack_floor(vm) + n)
                return vm_fail(vm, "stack underflow");
            QAT_TRY(make_tuple(vm, vm->sp - n));
            break;
        }
        case 't': { /* TUPLE */
            size_t first = 0;
            QAT_TRY(pop_mark(vm, &first));
            QAT_TRY(make_tuple(vm, first));
            break;
        }
        case 'q': QAT_TRY(need(vm, 1, &p)); QAT_TRY(memo_put(vm, *p)); break;
        case 'r': QAT_TRY(need(vm, 4, &p)); QAT_TRY(memo_put(vm, qat_load_le32(p))); break;
        case 0x94: QAT_TRY(memo_put(vm, vm->memo_len)); break; /* MEMOIZE */
        case 'h': QAT_TRY(need(vm, 1, &p)); QAT_TRY(memo_get(vm, *p)); break;
        case 'j': QAT_TRY(need(vm, 4, &p)); QAT_TRY(memo_get(vm, qat_load_le32(p))); break;
        case 's': QAT_TRY(op_setitems(vm, 0)); break;
        case 'u': QAT_TRY(op_setitems(vm, 1)); break;
        case 'a': QAT_TRY(op_appends(vm, 0)); break;
        case 'e': QAT_TRY(op_appends(vm, 1)); break;
        case 'c': QAT_TRY(op_global(vm)); break;
        case 0x93: QAT_TRY(op_stack_global(vm)); break;
        case 'R': QAT_TRY(op_reduce(vm)); break;
        case 'b': QAT_TRY(op_build(vm)); break;
        case 'Q': QAT_TRY(op_persid(vm)); break;
        default:
            if (op >= 0x20 && op < 0x7f)
                return vm_fail(vm, "opcode '%c' (0x%02x) is not allowed in a state dict", op, op);
            return vm_fail(vm, "opcode 0x%02x is not allowed in a state dict", op);
        }
    }
}

static char *dup_span(const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

static qat_status extract(pk_vm *vm, const pk_obj *root, qat_torch_state_dict *out)
{
    if (root->kind != PK_DICT)
        return qat_fail(QAT_ERR_FORMAT, "%s: the pickle holds a %s, not a state dict", vm->label,
                        kind_names[root->kind]);
    size_t n = root->u.seq.n / 2;
    if (n == 0)
        return QAT_OK; /* an empty state dict: nothing to describe */
    out->tensors = calloc(n, sizeof *out->tensors);
    if (!out->tensors)
        return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", vm->label);
    for (size_t i = 0; i < n; i++) {
        const pk_obj *key = root->u.seq.items[2 * i], *val = root->u.seq.items[2 * i + 1];
        if (key->kind != PK_STR || key->u.str.len == 0 || key->u.str.len > QAT_TENSOR_MAX_NAME)
            return qat_fail(QAT_ERR_FORMAT, "%s: state dict key %zu is a %s, not a tensor name",
                            vm->label, i, kind_names[key->kind]);
        if (val->kind != PK_TENSOR)
            return qat_fail(QAT_ERR_FORMAT, "%s: state dict entry '%.*s' is a %s, not a tensor "
                            "(only flat state dicts of tensors are supported)", vm->label,
                            (int)(key->u.str.len > 200 ? 200 : key->u.str.len), key->u.str.s,
                            kind_names[val->kind]);
        qat_torch_tensor_ref *r = &out->tensors[out->count];
        const pk_tensor *t = val->u.tensor;
        const pk_obj *s = t->storage;
        r->name = dup_span(key->u.str.s, key->u.str.len);
        r->storage_key = dup_span(s->u.storage.key, s->u.storage.key_len);
        out->count++;
        if (!r->name || !r->storage_key)
            return qat_fail(QAT_ERR_OUT_OF_MEMORY, "%s: out of memory", vm->label);
        r->dtype = s->u.storage.dtype;
        r->storage_numel = s->u.storage.numel;
        r->offset = t->offset;
        r->ndim = t->ndim;
        memcpy(r->size, t->size, sizeof r->size);
        memcpy(r->stride, t->stride, sizeof r->stride);
    }
    return QAT_OK;
}

void qat_torch_state_dict_clear(qat_torch_state_dict *sd)
{
    if (!sd)
        return;
    for (size_t i = 0; i < sd->count; i++) {
        free(sd->tensors[i].name);
        free(sd->tensors[i].storage_key);
    }
    free(sd->tensors);
    sd->tensors = NULL;
    sd->count = 0;
}

qat_status qat_torch_pickle_load(const uint8_t *data, size_t size, const char *label,
                                 qat_torch_state_dict *out)
{
    return qat_torch_pickle_load_limited(data, size, label, NULL, out);
}

qat_status qat_torch_pickle_load_limited(const uint8_t *data, size_t size, const char *label,
                                         const qat_torch_pickle_limits *limits,
                                         qat_torch_state_dict *out)
{
    QAT_CHECK_ARG(out != NULL && (data != NULL || size == 0), "pickle: NULL argument");
    memset(out, 0, sizeof *out);
    if (!label)
        label = "data.pkl";
    if (size > QAT_TORCH_PICKLE_MAX_BYTES)
        return qat_fail(QAT_ERR_FORMAT, "%s: pickle of %zu bytes exceeds the %u-byte limit", label,
                        size, QAT_TORCH_PICKLE_MAX_BYTES);
    pk_vm vm;
    memset(&vm, 0, sizeof vm);
    vm.data = data;
    vm.size = size;
    vm.label = label;
    static const qat_torch_pickle_limits defaults = {
        QAT_TORCH_PICKLE_MAX_OBJECTS, QAT_TORCH_PICKLE_MAX_ITEMS, QAT_TORCH_PICKLE_MAX_STACK,
        QAT_TORCH_PICKLE_MAX_MARKS};
    vm.limits = limits ? *limits : defaults;
    pk_obj *root = NULL;
    qat_status st = run(&vm, &root);
    if (st == QAT_OK)
        st = extract(&vm, root, out);
    if (st != QAT_OK)
        qat_torch_state_dict_clear(out);
    while (vm.objects) {
        pk_obj *next = vm.objects->next;
        if (vm.objects->kind == PK_TUPLE || vm.objects->kind == PK_LIST || vm.objects->kind == PK_DICT)
            free(vm.objects->u.seq.items);
        if (vm.objects->kind == PK_TENSOR)
            free(vm.objects->u.tensor);
        free(vm.objects);
        vm.objects = next;
    }
    free(vm.stack);
    free(vm.marks);
    free(vm.memo);
    return st;
}
