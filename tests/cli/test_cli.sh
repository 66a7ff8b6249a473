#!/bin/sh
# The qat CLI as a user drives it: help, quant configs, a training run from a
# YAML file (docs/method.md section 2's quantization block), a name that lies about its
# content, evaluation of the saved model, and clear failures.
# usage: test_cli.sh QAT DEMO_DIR
set -u
qat="$1"
demo="$2"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
check() { # name, command...; expects success
    name="$1"; shift
    if "$@" >"$work/out" 2>&1; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $name"; cat "$work/out"; fi
}
refuse() { # name, expected text, command...; expects failure mentioning the text
    name="$1"; text="$2"; shift 2
    if "$@" >"$work/out" 2>&1; then failed=$((failed + 1)); echo "FAIL (succeeded): $name"; cat "$work/out";
    elif grep -q -- "$text" "$work/out"; then passed=$((passed + 1));
    else failed=$((failed + 1)); echo "FAIL (message): $name"; cat "$work/out"; fi
}

check "help" "$qat" --help
for cmd in info quant train eval; do check "$cmd --help" "$qat" "$cmd" --help; done
check "quant" sh -c "\"$qat\" quant E6W1.58A6 | grep -q 'BitNet b1.58 ternary'"
refuse "bad quant" "W1.5" "$qat" quant E6W1.5A6
refuse "unknown command" "unknown command" "$qat" frobnicate

cat >"$work/run.yaml" <<YAML
model: $demo/model
tokenizer: $demo/spm.model
task: $demo/task.conll
corpus: $demo/corpus.txt
alpha: 0.5
steps: 6
batch: 8
lr: 0.002
seq_len: 32
threads: 1
out: $work/run
quantization:
  - name: BitNet_E6W1.58A6
    embedding_quant:  { algo: LSQ, bits: 6 }
    weight_quant:     { algo: BitNet_b158 }
    activation_quant: { algo: BitNet_b158, bits: 6 }
YAML
check "train --config" "$qat" train --config "$work/run.yaml"
check "results.json" test -f "$work/run/results.json"
check "eval" sh -c "\"$qat\" eval --model \"$work/run/model\" --tokenizer \"$demo/spm.model\" --task \"$demo/task.conll\" --seq-len 32 --out \"$work/eval.json\" && test -f \"$work/eval.json\""
sed 's/{ algo: LSQ, bits: 6 }/{ algo: LSQ, bits: 8 }/' "$work/run.yaml" >"$work/lie.yaml"
refuse "a name that disagrees" "disagrees with the content, which is E8W1.58A6" "$qat" train --config "$work/lie.yaml"
# The seed code's profile: its name must say so, and the run records it.
sed -e 's/name: BitNet_E6W1.58A6/name: E6W1.58A6@seed-code/' -e "s|out: .*|out: $work/seed|" "$work/run.yaml" >"$work/seed.yaml"
printf '    profile: seed-code\n' >>"$work/seed.yaml"
check "train --config, seed-code profile" "$qat" train --config "$work/seed.yaml"
check "results.json names the profile" grep -q '"quant": *"E6W1.58A6@seed-code"' "$work/seed/results.json"
sed 's/name: E6W1.58A6@seed-code/name: BitNet_E6W1.58A6/' "$work/seed.yaml" >"$work/seed-lie.yaml"
refuse "a name without its profile" "disagrees with the content, which is E6W1.58A6@seed-code" "$qat" train --config "$work/seed-lie.yaml"
sed 's/profile: seed-code/profile: seedcode/' "$work/seed.yaml" >"$work/seed-bad.yaml"
refuse "an unknown profile" "must be paper or seed-code" "$qat" train --config "$work/seed-bad.yaml"
sed 's/profile: seed-code/lsq_gradient: stuck/' "$work/seed.yaml" >"$work/seed-bad.yaml"
refuse "an unknown switch value" "must be learned or frozen" "$qat" train --config "$work/seed-bad.yaml"
# YAML nulls (a bare key, an empty anchor) where strings belong: refused, not read.
sed 's/name: E6W1.58A6@seed-code/name:/' "$work/seed.yaml" >"$work/seed-bad.yaml"
refuse "a null name" "'name' must be a string" "$qat" train --config "$work/seed-bad.yaml"
sed 's/profile: seed-code/profile: ~/' "$work/seed.yaml" >"$work/seed-bad.yaml"
refuse "a null profile" "must be a string: paper or seed-code" "$qat" train --config "$work/seed-bad.yaml"
sed 's/profile: seed-code/lsq_gradient: null/' "$work/seed.yaml" >"$work/seed-bad.yaml"
refuse "a null switch value" "must be learned or frozen" "$qat" train --config "$work/seed-bad.yaml"
sed 's/{ algo: BitNet_b158 }/{ algo: BitNet_b158, granularity: ~ }/' "$work/seed.yaml" >"$work/seed-bad.yaml"
refuse "a null granularity" "has a granularity that is not a string" "$qat" train --config "$work/seed-bad.yaml"
printf 'bogus: 1\n' >>"$work/lie.yaml"
refuse "unknown key" "'bogus' is not a qat train setting" "$qat" train --config "$work/lie.yaml"

# The shared-prefix plan: one DAPT run, fine-tuning cells from its snapshots.
common="--model $demo/model --tokenizer $demo/spm.model --quant E6W1.58A6 --steps 8 --batch 8 --lr 0.002 --seq-len 32 --threads 1"
check "dapt --help" "$qat" dapt --help
check "dapt (shared prefix)" "$qat" dapt $common --corpus "$demo/corpus.txt" --alphas 0.25,0.5 --out "$work/dapt"
check "dapt.json and snapshots" sh -c "test -f \"$work/dapt/dapt.json\" && test -d \"$work/dapt/snapshots/step-2\" && test -d \"$work/dapt/snapshots/step-4\""
check "train --dapt-dir" "$qat" train $common --task "$demo/task.conll" --alpha 0.5 --dapt-dir "$work/dapt" --out "$work/cell"
check "the cell records its plan" grep -q '"plan": *"shared-prefix"' "$work/cell/results.json"
refuse "an alpha without snapshot" "0.75" "$qat" train $common --task "$demo/task.conll" --alpha 0.75 --dapt-dir "$work/dapt" --out "$work/cell2"
refuse "dapt without alphas" "--alphas" "$qat" dapt $common --corpus "$demo/corpus.txt" --out "$work/dapt2"
refuse "dapt with a bad alpha" "not an alpha in (0, 1)" "$qat" dapt $common --corpus "$demo/corpus.txt" --alphas 0.5,1.5 --out "$work/dapt2"
# Adaptive alpha from the command line.
check "train --alpha auto" "$qat" train $common --task "$demo/task.conll" --corpus "$demo/corpus.txt" --alpha auto --eval-every 2 --patience 1 --out "$work/auto"
check "results.json records the chosen alpha" grep -q '"alpha_mode": *"adaptive"' "$work/auto/results.json"
refuse "missing model" "required" "$qat" train --task "$demo/task.conll"
# torchrun's variables on a CPU backend: a clear error before any training, not a wait for rank 1
dp="--model $demo/model --tokenizer $demo/spm.model --task $demo/task.conll --steps 2 --backend ref --out $work/dp"
refuse "two ranks on a CPU backend" "RANK/WORLD_SIZE gives 2 ranks (this is rank 0), but the ref backend has no communicator" \
    env RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29511 "$qat" train $dp
refuse "a rank beyond the world" "RANK=2 is not below WORLD_SIZE=2" \
    env RANK=2 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29511 "$qat" train $dp
refuse "srun's variables without a rendezvous" "SLURM_PROCID/SLURM_NTASKS gives 4 ranks but no rendezvous" \
    env SLURM_PROCID=1 SLURM_NTASKS=4 "$qat" train $dp
refuse "bad number" "is not a number" "$qat" train --model x --task y --alpha zero
# Sequence classification: a TSV of pairs (GLUE's header), a JSONL test file.
printf 'sentence1\tsentence2\tlabel\n' >"$work/pairs.tsv"
for i in 1 2 3 4 5 6 7 8 9 10; do
    printf 'le patient %s\tun examen\tyes\nce traitement\tla dose %s\tno\n' "$i" "$i" >>"$work/pairs.tsv"
done
printf '{"premise": "le patient", "hypothesis": "la dose", "label": "yes"}\n{"premise": "ce patient", "hypothesis": "la dose", "label": "no"}\n' >"$work/pairs.jsonl"
check "train, sequence pairs" sh -c "\"$qat\" train --model \"$demo/model\" --tokenizer \"$demo/spm.model\" --task \"$work/pairs.tsv\" --eval \"$work/pairs.jsonl\" --test \"$work/pairs.jsonl\" --steps 3 --batch 4 --seq-len 32 --threads 1 --out \"$work/seq\" | grep -q 'test accuracy'"
check "results.json: sequence task" grep -q '"f1_metric": *"accuracy"' "$work/seq/results.json"
check "eval, sequence pairs" sh -c "\"$qat\" eval --model \"$work/seq/model\" --tokenizer \"$demo/spm.model\" --task \"$work/pairs.jsonl\" --seq-len 32 --out \"$work/seq-eval.json\" | grep -q accuracy && grep -q macro_f1 \"$work/seq-eval.json\""
check "export, sequence classifier" "$qat" export --model "$work/seq/model" --tokenizer "$demo/spm.model" --task sequence-classification -o "$work/seq.qatp"
check "infer, a pair" sh -c "printf 'le patient\\tun examen\\n' | \"$qat\" infer \"$work/seq.qatp\" | grep -Eq '^[01][[:space:]]'"
check "infer names the class" sh -c "printf 'le patient\\tun examen\\n' | \"$qat\" infer \"$work/seq.qatp\" | grep -Eq '^[01]	(yes|no)	'"
check "export, token classifier" "$qat" export --model "$work/run/model" --tokenizer "$demo/spm.model" --task token-classification -o "$work/tok.qatp"
check "infer names the tags" sh -c "\"$qat\" infer \"$work/tok.qatp\" --text 'le patient' | grep -Eq '^[^	]+	[0-9]+	[^	0-9]'"
printf 'le patient\tyes\nce patient\n' >"$work/bad.tsv"
refuse "malformed sequence task" "bad.tsv:2: 1 columns, expected 2" "$qat" train --model "$demo/model" --tokenizer "$demo/spm.model" --task "$work/bad.tsv" --steps 2 --out "$work/bad"
refuse "eval without labels" "label names" "$qat" eval --model "$demo/model" --tokenizer "$demo/spm.model" --task "$demo/task.conll"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
