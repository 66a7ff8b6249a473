#!/usr/bin/env bash
# The one-command device check (issue #19 item 4). On a machine with an
# NVIDIA GPU, nvcc, gcc, meson, ninja and a python3 with numpy (PyTorch and
# transformers for the benchmark), in this order:
#   environment   GPU, driver, toolchain and Python versions
#   deps          zlib and json-c for the build (or .debs unpacked from $GPU_CHECK_DEBS)
#   build         libqat + the CUDA module, oneDNN and the Check suites off
#   cuda_module   the module loads, refuses a foreign ABI, fills every slot
#   op_coverage   every kernel of lib/backend/kernels.h has a test in tests/cuda/test_cuda_ops.c
#   cuda_ops      every CUDA op against ref, forward and backward, odd shapes
#                 (tests/cuda/test_cuda_ops.c, built with tests/cuda/check_lite: no Check needed)
#   memcheck      compute-sanitizer memcheck on the element-wise, fused linear, row, loss, quantizer
#                 and optimizer ops
#   racecheck     compute-sanitizer racecheck on the ops with shared-memory reductions
#   cuda_model    whole models' logits and gradients against ref (fp32, tf32, bf16)
#   step_parity   one whole training step against ref: FP32, E6W1.58A6, E4W4A4 x fp32, bf16
#                 (bench/gpu_step_parity.py; a step the trainer refuses is 'skipped: <reason>')
#   bench         ms/step, MFU against the dense bf16 peak, peak memory: libqat vs PyTorch eager
#                 and torch.compile, 96x512 and 96x128, FP32 and E6W1.58A6 (bench/cuda_train_step.py)
# and writes $OUT/gpu_check.json and $OUT/gpu_check.md (logs in $OUT/logs).
# Each stage has its own time limit, and the whole run a budget
# (GPU_CHECK_BUDGET, default 470 s: the check must end within 8 minutes); a
# failed or timed-out stage is recorded and the next one runs.
#
# Without a GPU (or with GPU_CHECK_DRY=1) it runs in dry mode: it builds (the
# CUDA module too when nvcc is found), runs what needs no GPU, checks the
# step-parity script on ref vs GPU_CHECK_DRY_BACKEND (default ref), and
# records every GPU stage as skipped with the reason.
#
# usage: bash bench/gpu_check.sh            (OUT defaults to build-gpu-check/out)
# environment: OUT, GPU_CHECK_DRY=1, GPU_CHECK_BUDGET=seconds, GPU_CHECK_JOBS=N,
#   GPU_CHECK_CUDA=enabled|disabled (default: enabled when nvcc is found), GPU_CHECK_BUILD_LIMIT=seconds,
#   GPU_CHECK_BUILD=dir, GPU_CHECK_DEBS=dir of .debs (libjson-c-dev, zlib1g-dev...) to unpack
#   when pkg-config lacks them (default: build-gpu-debs/ when it exists), PYTHON=interpreter (default: the first of python3,
#   /usr/bin/python3 and ./.venv/bin/python that imports numpy and torch, else numpy), CC (default cc),
#   GPU_CHECK_BENCH_ARGS=extra arguments of bench/cuda_train_step.py.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${GPU_CHECK_BUILD:-$ROOT/build-gpu-check}
OUT=${OUT:-$BUILD/out}
# The first python3 on PATH may be one without numpy (pyenv's, beside
# Debian's): the parity and bench stages would then fail on an import.
pick_python() {
    local want p
    for want in "import numpy, torch" "import numpy"; do
        for p in python3 /usr/bin/python3 "$ROOT/.venv/bin/python"; do
            command -v "$p" >/dev/null 2>&1 && "$p" -c "$want" >/dev/null 2>&1 && { echo "$p"; return; }
        done
    done
    echo python3
}
PYTHON=${PYTHON:-$(pick_python)}
CC=${CC:-cc}
BUDGET=${GPU_CHECK_BUDGET:-470}
JOBS=${GPU_CHECK_JOBS:-$(nproc 2>/dev/null || echo 2)}
START=$(date +%s)
mkdir -p "$OUT/logs" "$BUILD"
OUT=$(cd "$OUT" && pwd)
STAGES="$OUT/stages.tsv"
: >"$STAGES"
export ROOT BUILD OUT PYTHON CC JOBS

# nvcc and compute-sanitizer live in the toolkit's bin, often not on PATH.
case ":$PATH:" in *":/usr/local/cuda/bin:"*) ;; *) [ -d /usr/local/cuda/bin ] && PATH="$PATH:/usr/local/cuda/bin" ;; esac
export PATH

DRY=${GPU_CHECK_DRY:-0}
DRY_WHY="GPU_CHECK_DRY=1"
if [ "$DRY" != 1 ]; then
    if ! command -v nvidia-smi >/dev/null 2>&1; then
        DRY=1 DRY_WHY="no nvidia-smi on PATH (no NVIDIA driver)"
    elif ! nvidia-smi -L >/dev/null 2>&1; then
        DRY=1 DRY_WHY="nvidia-smi lists no GPU"
    fi
fi
export DRY DRY_WHY
if [ "${GPU_CHECK_CUDA:-}" = "" ]; then
    if command -v nvcc >/dev/null 2>&1; then GPU_CHECK_CUDA=enabled; else GPU_CHECK_CUDA=disabled; fi
fi
export GPU_CHECK_CUDA

# ---- stage bookkeeping -------------------------------------------------

record() { # name status seconds reason
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(printf '%s' "$4" | tr '\t\n' '  ' | cut -c1-300)" >>"$STAGES"
    printf '== %-12s %-8s %4ss  %s\n' "$1" "$2" "$3" "$4"
}

skip() { # name reason
    record "$1" skipped 0 "$2"
}

# stage NAME LIMIT FUNCTION: runs FUNCTION in a child bash under timeout,
# its output in $OUT/logs/NAME.log. Exit 0 passes, 77 skips (the reason is
# the log's last 'SKIP: ' line), 124/137 time out, anything else fails.
stage() {
    local name=$1 limit=$2 fn=$3 log="$OUT/logs/$1.log"
    local left=$((BUDGET - ($(date +%s) - START) - 10))
    if [ "$left" -lt 5 ]; then
        skip "$name" "the time budget (${BUDGET}s) is spent"
        return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    local t0 rc status reason
    t0=$(date +%s)
    STAGE_LIMIT=$limit timeout -k 5 "$limit" bash -c "$fn" >"$log" 2>&1
    rc=$?
    case $rc in
    0) status=passed reason=$(grep -E '^(OK|ok|PASS)' "$log" | tail -n 1) ;;
    77) status=skipped reason=$(grep -E '^SKIP: ' "$log" | tail -n 1 | sed 's/^SKIP: //') ;;
    124 | 137) status=timeout reason="killed after ${limit}s; last lines: $(tail -n 2 "$log" | tr '\n' ' ')" ;;
    *) status=failed reason="exit $rc; $(grep -E 'FAIL|rror' "$log" | head -n 2 | tr '\n' ' ')" ;;
    esac
    [ -z "$reason" ] && [ "$status" != passed ] && reason=$(tail -n 1 "$log")
    record "$name" "$status" $(($(date +%s) - t0)) "$reason"
    case $status in failed | timeout) tail -n 8 "$log" | sed 's/^/   | /' ;; esac
}

# ---- stages (each runs in its own bash: exported variables only) -------

st_environment() {
    echo "date: $(date -u +%FT%TZ)"
    echo "commit: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null) $(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) changed files"
    echo "host: $(uname -srm); $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
    [ -r /etc/os-release ] && echo "os: $(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"')"
    if [ "$DRY" = 1 ]; then echo "gpu: none ($DRY_WHY)"; else
        nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader
    fi
    for tool in nvcc "$CC" meson ninja compute-sanitizer; do
        if command -v "$tool" >/dev/null 2>&1; then
            echo "$tool: $("$tool" --version 2>&1 | grep -E '[0-9]+\.[0-9]+' | tail -n 1)"
        else echo "$tool: not found"; fi
    done
    "$PYTHON" - <<'EOF'
import importlib, sys
print("python:", sys.version.split()[0], sys.executable)
for m in ("numpy", "torch", "transformers"):
    try:
        mod = importlib.import_module(m)
        extra = ""
        if m == "torch":
            extra = f" (CUDA {mod.version.cuda}, available: {mod.cuda.is_available()})"
        print(f"{m}: {mod.__version__}{extra}")
    except Exception as exc:
        print(f"{m}: missing ({exc.__class__.__name__})")
EOF
    echo "ok: environment recorded"
}

st_deps() {
    missing=""
    for p in zlib json-c; do pkg-config --exists "$p" 2>/dev/null || missing="$missing $p"; done
    if [ -z "$missing" ]; then echo "ok: zlib $(pkg-config --modversion zlib), json-c $(pkg-config --modversion json-c)"; exit 0; fi
    echo "pkg-config lacks:$missing"
    # build-gpu-debs/ (git-ignored) is where docs/cuda.md's recipe downloads them.
    [ -z "${GPU_CHECK_DEBS:-}" ] && [ -d "$ROOT/build-gpu-debs" ] && GPU_CHECK_DEBS=$ROOT/build-gpu-debs
    if [ -z "${GPU_CHECK_DEBS:-}" ] || [ ! -d "${GPU_CHECK_DEBS:-}" ]; then
        echo "FAIL: set GPU_CHECK_DEBS to a folder of .debs (e.g. apt-get download zlib1g-dev libjson-c-dev libjson-c5) to unpack"
        exit 1
    fi
    prefix="$BUILD/deps"
    mkdir -p "$prefix"
    for deb in "$GPU_CHECK_DEBS"/*.deb; do dpkg-deb -x "$deb" "$prefix" && echo "unpacked $(basename "$deb")"; done
    find "$prefix" -name '*.pc' -exec sed -i "s|^prefix=.*|prefix=$prefix/usr|" {} +
    echo "ok: unpacked into $prefix (the following stages add it to the search paths)"
}

# Search paths for dependencies unpacked by st_deps.
deps_env() {
    local p="$BUILD/deps/usr"
    [ -d "$p" ] || return 0
    local lib="$p/lib/x86_64-linux-gnu"
    export PKG_CONFIG_PATH="$lib/pkgconfig:$p/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    export LIBRARY_PATH="$lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
    export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export CPATH="$p/include${CPATH:+:$CPATH}"
}

st_build() {
    deps_env
    cd "$ROOT" || exit 1
    # Only the library and the module: the checks need no CLI.
    opts=(-Dbuildtype=release -Dcuda="$GPU_CHECK_CUDA" -Donednn=disabled -Dtests=disabled -Dexamples=false)
    if [ -f "$BUILD/meson-private/coredata.dat" ]; then
        meson setup --reconfigure "$BUILD" "${opts[@]}" || exit 1
    else
        meson setup "$BUILD" "${opts[@]}" || exit 1
    fi
    ninja -C "$BUILD" -j "$JOBS" || exit 1
    ls "$BUILD"/backends/cuda/libqat-backend-cuda.so 2>/dev/null && echo "ok: libqat and the CUDA module built" ||
        echo "ok: libqat built (CUDA module: $GPU_CHECK_CUDA)"
}

# cc_test NAME: builds tests/cuda/test_NAME.c against the internal archive,
# with check_lite in place of Check.
cc_test() {
    deps_env
    # shellcheck disable=SC2046 # pkg-config prints several words on purpose
    "$CC" -std=c11 -O2 -D_GNU_SOURCE -DQAT_EXPERIMENTAL -I "$ROOT/tests/cuda/check_lite" -I "$ROOT/include" \
        -I "$ROOT/lib" -I "$ROOT/backends" "$ROOT/tests/cuda/test_$1.c" "$BUILD/libqat_internal.a" \
        $(pkg-config --libs zlib json-c) -fopenmp -lm -ldl -lpthread -o "$BUILD/gpu_check_$1"
}

st_cuda_module() {
    module="$BUILD/backends/cuda/libqat-backend-cuda.so"
    [ -f "$module" ] || { echo "SKIP: the CUDA module was not built (GPU_CHECK_CUDA=$GPU_CHECK_CUDA)"; exit 77; }
    cc_test cuda_module || exit 1
    "$BUILD/gpu_check_cuda_module" "$module"
}

st_op_coverage() {
    missing=""
    while read -r k; do
        grep -q -- "->$k(" "$ROOT/tests/cuda/test_cuda_ops.c" || missing="$missing $k"
    done < <(grep -oE '^ *X\([a-z_0-9]+,' "$ROOT/lib/backend/kernels.h" | sed -E 's/^ *X\(//; s/,$//')
    [ -z "$missing" ] || { echo "FAIL: kernels without a test in tests/cuda/test_cuda_ops.c:$missing"; exit 1; }
    echo "ok: every kernel of lib/backend/kernels.h is called in tests/cuda/test_cuda_ops.c"
}

gpu_test() { # NAME [wrapper...]: build and run tests/cuda/test_NAME.c
    name=$1
    shift
    cc_test "$name" || exit 1
    [ "$DRY" = 1 ] && { echo "SKIP: dry mode ($DRY_WHY; test_$name.c built without Check)"; exit 77; }
    QAT_BACKEND_PATH="$BUILD/backends/cuda" "$@" "$BUILD/gpu_check_$name"
}

# QAT_CUDA_SYNC=1: a kernel fault is reported by the slot that caused it.
st_cuda_ops() { QAT_CUDA_SYNC=1 gpu_test cuda_ops; }
st_cuda_model() { QAT_CUDA_SYNC=1 gpu_test cuda_model; }

sanitizer() { # TOOL TESTS
    command -v compute-sanitizer >/dev/null 2>&1 || { echo "SKIP: compute-sanitizer not found"; exit 77; }
    CK_LITE_TESTS=$2 gpu_test cuda_ops compute-sanitizer --tool "$1" --error-exitcode 1 --print-limit 20
}
st_memcheck() {
    sanitizer memcheck "elementwise_fill_copy_add_accumulate,elementwise_bias_gelu,elementwise_bias_tanh,elementwise_bias_grad,elementwise_gelu_bias_bwd,linear_fwd_fp32,elementwise_dropout_mask_is_identical,elementwise_dropout_add,rows_layernorm,rows_layernorm_bitnet_act,rows_softmax,attention_fused_fwd,rows_embeddings,rows_embedding_bwd_skewed,loss_cross_entropy,quant_abs_mean,quant_lsq,quant_lsq_rows_and_offsets,quant_bitnet_weights,quant_bitnet_activations,optim_scale_norm_adamw"
}
st_racecheck() {
    sanitizer racecheck "elementwise_bias_grad,elementwise_gelu_bias_bwd,rows_layernorm,rows_layernorm_bitnet_act,rows_softmax,attention_fused_fwd,rows_embeddings,rows_embedding_bwd_skewed,loss_cross_entropy,quant_abs_mean,quant_lsq,quant_bitnet_activations,optim_scale_norm_adamw"
}

st_step_parity() {
    deps_env # libqat.so.0 may need the unpacked json-c at run time
    backend=cuda
    if [ "$DRY" = 1 ]; then
        backend=${GPU_CHECK_DRY_BACKEND:-ref}
        echo "dry mode ($DRY_WHY): checking the script on ref vs $backend"
    fi
    QAT_BUILD_DIR="$BUILD" "$PYTHON" "$ROOT/bench/gpu_step_parity.py" --backend "$backend" --json "$OUT/step_parity.json" &&
        echo "ok: every step within its tolerance or skipped with its reason"
}

st_bench() {
    [ "$DRY" = 1 ] && { echo "SKIP: dry mode ($DRY_WHY)"; exit 77; }
    deps_env
    # shellcheck disable=SC2086 # extra arguments split on purpose
    QAT_BUILD_DIR="$BUILD" "$PYTHON" "$ROOT/bench/cuda_train_step.py" --batch 96 --seq 512,128 \
        --configs FP32,E6W1.58A6 --precision bf16 --impls libqat,eager,compile,libqat-fused --steps 3 \
        --deadline $((STAGE_LIMIT - 10)) --worker-timeout 150 --json "$OUT/bench.json" ${GPU_CHECK_BENCH_ARGS:-} &&
        echo "ok: benchmark rows in $OUT/bench.json"
}

export -f record skip deps_env cc_test gpu_test sanitizer
export -f st_environment st_deps st_build st_cuda_module st_op_coverage st_cuda_ops st_cuda_model st_memcheck \
    st_racecheck st_step_parity st_bench

# ---- the run -----------------------------------------------------------

echo "gpu_check: $([ "$DRY" = 1 ] && echo "DRY mode: $DRY_WHY" || echo "GPU mode"); budget ${BUDGET}s; out $OUT"
stage environment 30 st_environment
cp "$OUT/logs/environment.log" "$OUT/environment.txt" 2>/dev/null
stage deps 60 st_deps
stage build "${GPU_CHECK_BUILD_LIMIT:-200}" st_build
built=1
grep -q $'^build\tpassed' "$STAGES" || built=0
if [ "$built" = 1 ]; then
    stage cuda_module 30 st_cuda_module
else
    skip cuda_module "the build failed"
fi
stage op_coverage 10 st_op_coverage
for s in cuda_ops:60 memcheck:60 racecheck:40 cuda_model:60 step_parity:60 bench:210; do
    name=${s%%:*}
    if [ "$built" = 1 ]; then stage "$name" "${s##*:}" "st_$name"; else skip "$name" "the build failed"; fi
done

# ---- the summary: JSON + Markdown --------------------------------------

"$PYTHON" - "$OUT" "$DRY" "$DRY_WHY" "$(($(date +%s) - START))" <<'EOF' || echo "gpu_check: the summary could not be written (see $OUT/stages.tsv)"
import json, os, sys
out, dry, why, seconds = sys.argv[1], sys.argv[2] == "1", sys.argv[3], int(sys.argv[4])
stages = []
for line in open(os.path.join(out, "stages.tsv")):
    name, status, secs, reason = (line.rstrip("\n").split("\t") + [""] * 4)[:4]
    stages.append({"stage": name, "status": status, "seconds": int(secs or 0), "detail": reason})
def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
env = open(os.path.join(out, "environment.txt")).read() if os.path.exists(os.path.join(out, "environment.txt")) else ""
summary = {"dry": dry, "dry_reason": why if dry else None, "seconds": seconds, "environment": env.splitlines(),
           "stages": stages, "step_parity": load("step_parity.json"), "bench": load("bench.json")}
with open(os.path.join(out, "gpu_check.json"), "w") as f:
    json.dump(summary, f, indent=1)
md = ["# gpu_check", "", f"{'DRY run (' + why + '): nothing ran on a GPU.' if dry else 'GPU run.'} "
      f"{seconds} s in all.", "", "```", *env.splitlines(), "```", "",
      "| stage | status | s | detail |", "|---|---|---|---|"]
md += [f"| {s['stage']} | {s['status']} | {s['seconds']} | {s['detail'].replace('|', '/')} |" for s in stages]
rows = summary["step_parity"] or []
if rows:
    md += ["", "## Training step vs ref", "", "| config | precision | status | loss rel (1, 2) | update rel (1, 2) |",
           "|---|---|---|---|---|"]
    for r in rows:
        f = lambda k: f"{r[k]:.2e}" if k in r else "-"
        md.append(f"| {r['config']} | {r['precision']} | {r['status']}{': ' + r['reason'] if r.get('reason') else ''} "
                  f"| {f('step1_loss_rel')}, {f('step2_loss_rel')} | {f('step1_update_rel')}, {f('step2_update_rel')} |")
bench = summary["bench"] or {}
if bench.get("rows"):
    md += ["", f"## Step benchmark ({bench.get('gpu')}, MFU against {bench.get('peak_bf16_tflops')} TFLOP/s dense bf16)",
           "", "| batch x seq | config | impl | ms/step | MFU | peak memory | note |", "|---|---|---|---|---|---|---|"]
    for r in bench["rows"]:
        if "error" in r:
            md.append(f"| {r['batch']}x{r['seq']} | {r['config']} | {r['impl']} | failed: {r['error']} | | | |")
            continue
        mem = "n/a" if r.get("mem") is None else f"{r['mem'] / 2**30:.2f} GiB"
        mfu = "n/a" if r.get("mfu") is None else f"{r['mfu'] * 100:.1f} %"
        md.append(f"| {r['batch']}x{r['seq']} | {r['config']} | {r['impl']} | {r['ms']:.1f} | {mfu} | {mem} | {r.get('note', '')} |")
elif bench.get("skipped"):
    md += ["", f"Step benchmark: {bench['skipped']}"]
with open(os.path.join(out, "gpu_check.md"), "w") as f:
    f.write("\n".join(md) + "\n")
print(f"gpu_check: {out}/gpu_check.json and {out}/gpu_check.md")
EOF

failed=$(awk -F'\t' '$2 == "failed" || $2 == "timeout"' "$STAGES" | wc -l)
echo "gpu_check: $(wc -l <"$STAGES") stages, $failed failed or timed out, $(($(date +%s) - START)) s"
[ "$failed" -eq 0 ]
