#!/usr/bin/env python3
"""CPU PyTorch reference for the BPTT row of the Eventprop benchmark (issue 7).

The same computation as `Eventprop.Benchmarks bptt` (case bptt-<T>): surrogate-gradient BPTT on an SHD-sized network,
700 inputs -> 256 recurrent LIF -> 20 leaky-integrator readout, dt = 1 ms, tau_mem 20 ms, tau_syn 5 ms, batch 32,
Poisson-like input at 7 spikes per ms over the 700 channels, SuperSpike surrogate (beta = 10), detached reset, the
stepped engine's exact-propagator discretisation, loss sum_exp (softmax cross-entropy of (1/T) * sum_n e^{-t_n/T} U_out[n]
* dt), one Adam step per minibatch. Written as the usual PyTorch loop over time steps (as in spytorch / snnTorch), which
keeps every step's tensors for autograd.

Measured on the development machine with Debian's PyTorch (see the benchmark README for the figures). To measure:

    sudo apt-get install python3-torch libopenblas0-pthread   # Debian 12: PyTorch 1.13 on OpenBLAS (without OpenBLAS,
                                                              # Debian's torch falls back to the slow reference BLAS)
    /usr/bin/python3 experiments/Eventprop.Benchmarks/bptt_pytorch_reference.py --steps 1000 --threads 2
    # or, with PyPI: pip install torch (CPU build; MKL)

By default the input currents of all steps are computed in one matrix product before the loop (as SpyTorch does;
--per-step-input multiplies inside the loop, which was slower here). It prints, per T: milliseconds per trial (wall clock
and process CPU time, mean over the measured minibatches after warm-up), the peak resident memory of the process
(ru_maxrss; run one T per process with --steps T for per-case peaks, as the C# benchmark does) and the bytes autograd
saved for the backward pass per trial (every saved tensor, once per storage). Compare with the 'ms/trial',
'cpu ms/trial', 'peak RSS MiB' and 'stored KiB/trial' columns of
`dotnet run -c Release --project experiments/Eventprop.Benchmarks -- bptt`.
"""
import argparse
import math
import resource
import time

import torch


class SuperSpike(torch.autograd.Function):
    """Heaviside forward, 1 / (beta |x| + 1)^2 backward (Zenke & Ganguli 2018)."""

    beta = 10.0

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / (SuperSpike.beta * x.abs() + 1.0) ** 2


def poisson_batch(batch, steps, inputs=700, per_ms=7.0, generator=None):
    """Dense [steps, batch, inputs] input counts: per_ms * steps spikes per trial, uniform over channels and time."""
    x = torch.zeros(steps, batch, inputs)
    n = int(per_ms * steps)
    for b in range(batch):
        t = torch.randint(0, steps, (n,), generator=generator)
        c = torch.randint(0, inputs, (n,), generator=generator)
        x[:, b].index_put_((t, c), torch.ones(n), accumulate=True)
    return x


def run(steps, batch=32, batches=5, warmup=2, hidden=256, outputs=20, dt=1.0, tau_mem=20.0, tau_syn=5.0, seed=1,
        precompute_input=True):
    g = torch.Generator().manual_seed(seed)
    w_in = (0.03 + 0.01 * torch.randn(700, hidden, generator=g)).requires_grad_()
    w_rec = (0.02 * torch.randn(hidden, hidden, generator=g)).requires_grad_()
    w_out = (0.03 * torch.randn(hidden, outputs, generator=g)).requires_grad_()
    opt = torch.optim.Adam([w_in, w_rec, w_out], lr=1e-3)
    em = math.exp(-dt / tau_mem)
    es = math.exp(-dt / tau_syn)
    a = tau_syn / (tau_mem - tau_syn) * (em - es)  # exact propagator I -> V over one step
    T = steps * dt
    weights = torch.tensor([math.exp(-n * dt / T) for n in range(steps)])
    # Closed-form step integral of V from (V_n, I_n), as the C# engine's readout trace (rate 1/T).
    m, s, r = 1 / tau_mem, 1 / tau_syn, 1 / T
    from_v = (1 - math.exp(-(r + m) * dt)) / (r + m)
    # integral of e^{-r u} * a(u) du over [0, dt] with a(u) = tau_s/(tau_m - tau_s) (e^{-u/tau_m} - e^{-u/tau_s})
    k = tau_syn / (tau_mem - tau_syn)
    from_i = k * ((1 - math.exp(-(r + m) * dt)) / (r + m) - (1 - math.exp(-(r + s) * dt)) / (r + s))
    data = [poisson_batch(batch, steps, generator=g) for _ in range(2)]
    labels = [torch.randint(0, outputs, (batch,), generator=g) for _ in range(2)]

    saved = {}

    def pack(t):
        # Every tensor autograd keeps for the backward pass, counted once per storage.
        saved[(t.data_ptr(), t.dtype)] = max(saved.get((t.data_ptr(), t.dtype), 0), t.numel() * t.element_size())
        return t

    def step(x, y):
        saved.clear()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            return step_recorded(x, y)

    def step_recorded(x, y):
        v = torch.zeros(batch, hidden)
        # SpyTorch style: the input currents of every step in one matrix product before the loop (the cheaper way);
        # or one product per step inside the loop (--per-step-input).
        # (unbind, not drive[n]: indexing's backward would build a zero tensor of the full [T, batch, hidden] per step)
        drive = (x.reshape(-1, x.shape[-1]) @ w_in).reshape(x.shape[0], x.shape[1], -1).unbind(0) if precompute_input else None
        i = drive[0] if precompute_input else x[0] @ w_in
        vo = torch.zeros(batch, outputs)
        io = torch.zeros(batch, outputs)
        z = torch.zeros(batch, outputs)
        spikes = 0.0
        for n in range(steps):
            z = z + weights[n] * (vo * from_v + io * from_i)
            v_new = em * v + a * i
            i_new = es * i
            vo, io = em * vo + a * io, es * io
            if n + 1 < steps:
                s_ = SuperSpike.apply(v_new - 1.0)
                v_new = v_new * (1.0 - s_.detach())  # detached reset
                i_new = i_new + s_ @ w_rec + (drive[n + 1] if precompute_input else x[n + 1] @ w_in)
                io = io + s_ @ w_out
                spikes += float(s_.sum())
            v, i = v_new, i_new
        loss = torch.nn.functional.cross_entropy(z / T, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return spikes

    for w in range(warmup):
        step(data[w % 2], labels[w % 2])
    cpu0, wall0 = time.process_time(), time.perf_counter()
    spikes = 0.0
    saved_bytes = 0
    for b in range(batches):
        spikes += step(data[b % 2], labels[b % 2])
        saved_bytes = max(saved_bytes, sum(saved.values()))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    trials = batches * batch
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    return 1000 * wall / trials, 1000 * cpu / trials, spikes / trials, peak, saved_bytes / batch / 1024.0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, nargs="+", default=[250, 500, 1000])
    p.add_argument("--batches", type=int, default=5)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--per-step-input", action="store_true",
                   help="multiply the input by W_in inside the time loop (default: all steps at once before it, as SpyTorch)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: PyTorch's choice)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, {args.batches} measured minibatches, "
          f"input currents {'per step' if args.per_step_input else 'precomputed for all steps'}")
    print("| T (steps) | ms/trial | cpu ms/trial | hidden spikes/trial | peak RSS MiB | saved KiB/trial |")
    print("|---|---|---|---|---|---|")
    for steps in args.steps:
        ms, cpu, spk, peak, kib = run(steps, args.batch, args.batches, precompute_input=not args.per_step_input)
        print(f"| {steps} | {ms:.2f} | {cpu:.2f} | {spk:.0f} | {peak:.0f} | {kib:.0f} |")


if __name__ == "__main__":
    main()
