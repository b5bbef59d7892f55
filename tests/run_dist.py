#!/usr/bin/python3
"""ctest dist_*: cat_classifier under mpirun (xgrad::dist) against the single process.

usage: run_dist.py CASE PROGRAM MPIRUN HAVE_MPI DATA_DIR WORK_DIR
  CASE  full_batch  the seed's options, 300 iterations: np 1 (plain), 2, 3 (oversubscribed)
        adam        Adam + mini-batches of 64 + dropout + L2, 20 epochs: np 1, 2, 3
        kill_resume np 2 killed (kill -9 of rank 1) after a checkpoint: the job ends within 30 s,
                    non-zero, one line of ours; then --resume with np 3 equals the uninterrupted run
        bad_input   one process of two meets bad input (MPMD: its --data is missing): the job ends
                    within 30 s, exit 2, one line of ours naming the process
Equal means: every parameter of model.h5 within 1e-10 relative (to the largest entry of its
array) of the single process's, and the printed cost lines identical (6 decimals).
Prints "SKIPPED: ..." (ctest: skipped) when MPI was not built or the dataset is missing, unless
XGRAD_REQUIRE_DATA=1, which makes either a failure.
"""
import os
import shutil
import signal
import subprocess
import sys
import time

case, program, mpirun, have_mpi, data_dir, work = sys.argv[1:7]
required = os.environ.get("XGRAD_REQUIRE_DATA") == "1"


def skip_or_fail(why):
    if required:
        print("FAILED: " + why + " (XGRAD_REQUIRE_DATA=1)")
        sys.exit(1)
    print("SKIPPED: " + why)
    sys.exit(0)


if have_mpi != "ON" or not mpirun or mpirun.endswith("NOTFOUND"):
    skip_or_fail("xgrad was built without MPI (apt-get install libopenmpi-dev openmpi-bin; tools/setup.sh does)")
data = os.environ.get("XGRAD_DATA") or data_dir
if not (os.path.exists(os.path.join(data, "train_catvnoncat.h5")) and
        os.path.exists(os.path.join(data, "test_catvnoncat.h5"))):
    skip_or_fail("the cat/non-cat dataset is not in $XGRAD_DATA or " + data_dir)

import h5py  # noqa: E402  (after the skips: h5py is installed by tools/setup.sh)
import numpy as np  # noqa: E402

shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
MPI = [mpirun, "--quiet", "--oversubscribe", "--bind-to", "none"]
failures = []


def check(ok, what):
    print(("ok      " if ok else "FAILED  ") + what, flush=True)
    if not ok:
        failures.append(what)


def run(np_, args, out, timeout=300):
    cmd = [program, "train", "--data", data, "--out", out] + args
    if np_ > 0:
        cmd = MPI + ["-np", str(np_)] + cmd
    t0 = time.time()
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    print("  %s: exit %d, %.1f s" % (" ".join(cmd[-len(args) - 5:]) if np_ == 0 else "np %d" % np_, r.returncode,
                                     time.time() - t0), flush=True)
    if r.returncode != 0:
        print(r.stdout + r.stderr)
    return r


def cost_lines(text):
    return [l for l in text.splitlines() if l.startswith("after iteration")]


def params(path):
    with h5py.File(path, "r") as f:
        out = {}
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f" and obj.ndim == 2:
                out[name] = np.array(obj)
        f.visititems(visit)
        return out


def same_params(a_path, b_path, what):
    a, b = params(a_path), params(b_path)
    check(len(a) >= 2 and sorted(a) == sorted(b), what + ": the same parameter arrays (%d)" % len(a))
    worst = 0.0
    for k in a:
        if k in b and a[k].shape == b[k].shape:
            scale = max(np.max(np.abs(a[k])), 1e-300)
            worst = max(worst, float(np.max(np.abs(a[k] - b[k]))) / scale)
        else:
            worst = float("inf")
    check(worst <= 1e-10, what + ": parameters within 1e-10 relative (worst %.2e)" % worst)


def equal_runs(args, name, expect_lines):
    ref = run(0, args, os.path.join(work, name + "_1"))
    check(ref.returncode == 0, name + ": the single process ran")
    ref_lines = cost_lines(ref.stdout)
    check(len(ref_lines) == expect_lines, name + ": %d cost lines printed" % len(ref_lines))
    for n in (2, 3):
        out = os.path.join(work, "%s_%d" % (name, n))
        r = run(n, args, out)
        check(r.returncode == 0, "%s np %d: exit 0" % (name, n))
        check(cost_lines(r.stdout) == ref_lines, "%s np %d: the cost lines equal the single process's" % (name, n))
        check(r.stdout.count("train accuracy:") == 1, "%s np %d: printed once (rank 0 alone)" % (name, n))
        check(os.path.exists(os.path.join(out, "model.h5")) and os.path.exists(os.path.join(out, "cost_curve.png")),
              "%s np %d: model.h5 and the pictures written" % (name, n))
        if os.path.exists(os.path.join(out, "model.h5")):
            same_params(os.path.join(ref_out(name), "model.h5"), os.path.join(out, "model.h5"),
                        "%s np %d" % (name, n))


def ref_out(name):
    return os.path.join(work, name + "_1")


ADAM = ["--optimizer", "adam", "--learning-rate", "0.001", "--mini-batch-size", "64", "--keep-prob", "0.8",
        "--lambd", "0.7", "--layers", "12288,20,7,5,1"]


def rank_pid(mpirun_pid, rank):
    """The pid of the process of `rank` among mpirun's children (by its OMPI_COMM_WORLD_RANK)."""
    for _ in range(200):
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % p) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                if ppid != mpirun_pid:
                    continue
                with open("/proc/%s/environ" % p, "rb") as f:
                    if b"OMPI_COMM_WORLD_RANK=%d\0" % rank in f.read():
                        return int(p)
            except (OSError, ValueError, IndexError):
                continue
        time.sleep(0.05)
    return None


def our_lines(text):
    return [l for l in text.splitlines() if l.startswith("cat_classifier:")]


if case == "full_batch":
    equal_runs(["--iterations", "300"], "full", 3)
elif case == "adam":
    equal_runs(ADAM + ["--iterations", "20", "--print-every", "5"], "adam", 4)
elif case == "kill_resume":
    out2 = os.path.join(work, "killed")
    ckpt = os.path.join(out2, "checkpoint.h5")
    cmd = MPI + ["-np", "2", program, "train", "--data", data, "--out", out2, "--iterations", "100000",
                 "--checkpoint-every", "5", "--print-every", "0"] + ADAM
    job = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim = rank_pid(job.pid, 1)
    check(victim is not None, "kill: found the process of rank 1")
    t0 = time.time()
    while not os.path.exists(ckpt) and time.time() - t0 < 120 and job.poll() is None:
        time.sleep(0.02)
    check(os.path.exists(ckpt), "kill: np 2 wrote a checkpoint")
    if victim:
        os.kill(victim, signal.SIGKILL)
    t_kill = time.time()
    try:
        stdout, stderr = job.communicate(timeout=30)
        ended = time.time() - t_kill
    except subprocess.TimeoutExpired:
        job.kill()
        stdout, stderr = job.communicate()
        ended = None
    check(ended is not None, "kill: the job ended within 30 s of kill -9 (%s)" %
          ("%.1f s" % ended if ended is not None else "it hung"))
    check(job.returncode != 0, "kill: mpirun's exit code is not 0 (%s)" % job.returncode)
    lines = our_lines(stderr)
    print("  stderr: " + stderr.strip().replace("\n", "\n          "))
    check(len(lines) == 1 and "stopped" in lines[0] and "--resume" in lines[0],
          "kill: one line of ours says the job stopped and how to resume")
    saved = os.path.join(work, "checkpoint_np2.h5")
    if os.path.exists(ckpt):
        shutil.copy(ckpt, saved)
    # the killed run's checkpoint continued by 3 processes = one process from the start
    total = ["--iterations", "60", "--print-every", "0"] + ADAM
    ref = run(0, total, os.path.join(work, "whole"))
    res = run(3, total + ["--resume", saved], os.path.join(work, "resumed"))
    check(ref.returncode == 0 and res.returncode == 0, "resume: both ran")
    after = [l for l in res.stdout.splitlines() if l.startswith("resumed from")]
    check(len(after) == 1, "resume np 3: " + (after[0] if after else "no 'resumed from' line"))
    if after:
        check(int(after[0].rsplit(" ", 1)[1]) < 59, "resume np 3: the checkpoint was before the last iteration")
    if res.returncode == 0:
        same_params(os.path.join(work, "whole", "model.h5"), os.path.join(work, "resumed", "model.h5"),
                    "resume np 2 -> np 3")
elif case == "bad_input":
    good = [program, "train", "--data", data, "--out", os.path.join(work, "bad"), "--iterations", "100000",
            "--print-every", "0"]
    bad = [program, "train", "--data", os.path.join(work, "no_such_dir"), "--out", os.path.join(work, "bad"),
           "--iterations", "100000", "--print-every", "0"]
    t0 = time.time()
    try:
        r = subprocess.run(MPI + ["-np", "1"] + good + [":", "-np", "1"] + bad, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        took = time.time() - t0
        rc, stderr = r.returncode, r.stderr
    except subprocess.TimeoutExpired as e:
        took, rc, stderr = None, None, (e.stderr or b"").decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
    print("  stderr: " + stderr.strip().replace("\n", "\n          "))
    check(took is not None and took < 30, "bad input: the job ended within 30 s (%s)" %
          ("%.1f s" % took if took is not None else "it hung"))
    check(rc == 2, "bad input: exit code 2 (%s)" % rc)
    lines = our_lines(stderr)
    check(len(lines) == 1 and "process 1 of 2" in lines[0] and "no_such_dir" in lines[0],
          "bad input: one line of ours names the process and the problem")
    # the same bad input on every process: one line (rank 0's), exit 2, no wait
    t0 = time.time()
    r = subprocess.run(MPI + ["-np", "2"] + bad, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=60)
    lines = our_lines(r.stderr)
    check(r.returncode == 2 and len(lines) == 1 and "process" not in lines[0],
          "bad input everywhere: exit 2, one line (%s; %.1f s)" % (lines, time.time() - t0))
else:
    print("run_dist.py: unknown case " + case)
    sys.exit(2)

if failures:
    print("%d check(s) failed" % len(failures))
    sys.exit(1)
print("all checks passed")
