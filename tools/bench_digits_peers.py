#!/usr/bin/env python3
"""The peers of xgrad_bench_digits, run by it as child processes (one per peer, with a time limit).

    bench_digits_peers.py torch DATA_DIR STEPS WARMUP
        PyTorch on the model xgrad_bench_digits times: Linear(64,64), ReLU, Linear(64,10) in
        float64, cross-entropy on class indices, torch.optim.Adam(lr=1e-3) with its defaults,
        batches of 64 (the 22 full batches of one shuffle of the training set, sliced beforehand,
        taken in turn). One step = zero_grad, forward, loss, backward, step; timed one by one after
        WARMUP untimed steps, median over STEPS. Once with torch.set_num_threads(1), once with 2.
    bench_digits_peers.py sklearn DATA_DIR REPEATS
        scikit-learn's MLPClassifier(hidden_layer_sizes=(64,), random_state=1) with its defaults
        (Adam, lr 1e-3, batches of 200, up to 200 epochs, L2 alpha 1e-4), as the dataset's README;
        fit() timed REPEATS times with numpy's BLAS at its default threads and REPEATS times at one
        thread (the median of each is printed), then its accuracies.

Output: "key value" lines. Needs numpy and h5py, and torch or scikit-learn (Debian python3-torch,
python3-sklearn); a missing module exits with status 3 and one line on stderr.
"""
import statistics
import sys
import time
import warnings


def load(data_dir, split):
    import h5py
    import numpy as np
    with h5py.File(f"{data_dir}/{split}_digits.h5", "r") as f:
        x = f[f"{split}_set_x"][()].reshape(-1, 64).astype(np.float64) / 16.0
        y = f[f"{split}_set_y"][()].astype(np.int64)
    return x, y


def torch_peer(data_dir, steps, warmup):
    import numpy as np
    import torch
    x, y = load(data_dir, "train")
    order = np.random.RandomState(1).permutation(len(y))
    X = torch.tensor(x, dtype=torch.float64)
    Y = torch.tensor(y)
    batches = [(X[order[b:b + 64]].contiguous(), Y[order[b:b + 64]].contiguous())
               for b in range(0, len(y) - 63, 64)]
    print("torch_version", torch.__version__.split("+")[0].replace("a0", ""))
    for threads in (1, 2):
        torch.set_num_threads(threads)
        torch.manual_seed(1)
        model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(),
                                    torch.nn.Linear(64, 10)).double()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        times = []
        for i in range(warmup + steps):
            xb, yb = batches[i % len(batches)]
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            t1 = time.perf_counter()
            if i >= warmup:
                times.append((t1 - t0) * 1e6)
        times.sort()
        print(f"step_us_threads_{threads}", statistics.median(times))
        print(f"min_us_threads_{threads}", times[0])
        print(f"loss_threads_{threads}", float(loss))


def sklearn_peer(data_dir, repeats):
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    x, y = load(data_dir, "train")
    xt, yt = load(data_dir, "test")
    print("sklearn_version", sklearn.__version__)
    # numpy's BLAS with its default threads, then limited to one (threadpoolctl comes with
    # scikit-learn): on a busy machine the default's spinning threads can cost it 2-3x
    from threadpoolctl import threadpool_limits
    for threads in ("default", "1"):
        seconds = []
        for _ in range(repeats):
            clf = MLPClassifier(hidden_layer_sizes=(64,), random_state=1)
            with warnings.catch_warnings(), threadpool_limits(limits=None if threads == "default" else 1):
                warnings.simplefilter("ignore", ConvergenceWarning)
                t0 = time.perf_counter()
                clf.fit(x, y)
                seconds.append(time.perf_counter() - t0)
        print(f"fit_seconds_threads_{threads}", statistics.median(seconds))
    print("epochs", clf.n_iter_)
    print("train_accuracy", clf.score(x, y))
    print("test_accuracy", clf.score(xt, yt))


def main(argv):
    try:
        if len(argv) == 5 and argv[1] == "torch":
            torch_peer(argv[2], int(argv[3]), int(argv[4]))
        elif len(argv) == 4 and argv[1] == "sklearn":
            sklearn_peer(argv[2], int(argv[3]))
        else:
            print("usage: bench_digits_peers.py torch DATA_DIR STEPS WARMUP | sklearn DATA_DIR REPEATS",
                  file=sys.stderr)
            return 2
    except ImportError as e:
        print(f"bench_digits_peers.py: {e}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
