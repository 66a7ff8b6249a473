#!/usr/bin/env python3
"""Golden file for the AdamW test: torch 1.13's AdamW + the linear warm-up
schedule (transformers' lambda, via LambdaLR) + clip_grad_norm_, for N steps
on several parameter groups (weight decay on and off).

usage: gen_adamw_golden.py OUT.json
Numbers are written with repr() of the float32 value, which round-trips."""
import json
import math
import sys

import torch


def linear_warmup_lambda(warmup, total):
    # transformers.get_linear_schedule_with_warmup
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        return max(0.0, float(total - step) / float(max(1, total - warmup)))
    return f


def run(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    params = []
    groups_json = []
    for size, decay in cfg["groups"]:
        p = torch.nn.Parameter(torch.randn(size, generator=g) * 0.5)
        params.append((p, decay))
        groups_json.append({"decay": decay, "init": [float(x) for x in p.detach().tolist()]})
    wd = cfg["weight_decay"]
    opt = torch.optim.AdamW(
        [{"params": [p], "weight_decay": wd if decay else 0.0} for p, decay in params],
        lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"], foreach=False)
    warmup = math.ceil(cfg["steps"] * cfg["warmup_ratio"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_warmup_lambda(warmup, cfg["steps"]))
    grads, norms, lrs = [], [], []
    for step in range(cfg["steps"]):
        # Gradient scales vary so some steps clip and others do not.
        scale = [0.05, 0.3, 2.0, 10.0][step % 4]
        step_grads = []
        for p, _ in params:
            gr = (torch.randn(p.shape, generator=g) * scale).to(torch.float32)
            if step == 5:
                gr[0] = 0.0  # exact zeros in a gradient
            p.grad = gr.clone()
            step_grads.append([float(x) for x in gr.tolist()])
        grads.append(step_grads)
        lrs.append(opt.param_groups[0]["lr"])
        total = torch.nn.utils.clip_grad_norm_([p for p, _ in params], cfg["max_norm"])
        norms.append(float(total))
        opt.step()
        sched.step()
    out = dict(cfg)
    out["warmup"] = warmup
    out["groups"] = groups_json
    out["grads"] = grads
    out["norms"] = norms
    out["lrs"] = lrs
    out["final"] = []
    for p, _ in params:
        st = opt.state[p]
        out["final"].append({
            "param": [float(x) for x in p.detach().tolist()],
            "exp_avg": [float(x) for x in st["exp_avg"].tolist()],
            "exp_avg_sq": [float(x) for x in st["exp_avg_sq"].tolist()],
            "step": int(st["step"].item()),
        })
    return out


def main():
    torch.set_num_threads(1)
    base = {"beta1": 0.9, "beta2": 0.98, "eps": 1e-8, "weight_decay": 0.01,
            "max_norm": 1.0, "warmup_ratio": 0.1}
    cfgs = [
        dict(base, lr=1e-3, steps=25, groups=[[7, True], [33, False], [1, False], [130, True]]),
        # the study's settings: lr 5e-6, long enough for warm-up and decay
        dict(base, lr=5e-6, steps=40, groups=[[64, True], [17, False]]),
        # torch defaults, a strong decay, no warm-up, large clip threshold
        dict(base, lr=3e-2, steps=12, beta2=0.999, weight_decay=0.1, warmup_ratio=0.0,
             max_norm=5.0, groups=[[9, True], [40, True], [3, False]]),
    ]
    runs = [run(c, 1234 + i) for i, c in enumerate(cfgs)]
    with open(sys.argv[1], "w") as f:
        json.dump({"runs": runs}, f)


if __name__ == "__main__":
    main()
