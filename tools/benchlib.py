"""What the bench tools share: ports, pinned servers, CPU accounting, h2load, `tradewire local` and its services, summaries."""
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRADEWIRE = os.path.join(ROOT, ".build", "release", "tradewire")
PEERS = os.path.join(ROOT, ".build-peers", "bin")
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def process_counters(pid):
    """(user seconds, system seconds, wake-ups) of a process so far: its CPU from /proc/PID/stat, and the voluntary
    context switches of all its threads (each a thread that slept and was woken; threads that ended are not counted)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    wakeups = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                wakeups += int(f.read().split("\nvoluntary_ctxt_switches:")[1].split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # the thread ended meanwhile
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS, wakeups


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wait_listening(port, process, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if process.poll() is not None:
            sys.exit(f"server on port {port} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on port {port}")


class Server:
    """A server pinned to vCPU 0 (or `cpu`); clients run pinned to vCPU 1 (see ../shared/peers/README.md)."""

    def __init__(self, argv, port, cpu=0):
        self.port = port
        self.process = subprocess.Popen(["taskset", "-c", str(cpu)] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(port, self.process)

    def measure(self, client_argv, parse):
        """Runs the client pinned to vCPU 1; returns (parsed client output, server CPU seconds, client CPU seconds)."""
        before, client_before = cpu_seconds(self.process.pid), children_cpu_seconds()
        result = subprocess.run(["taskset", "-c", "1"] + client_argv, capture_output=True, text=True, timeout=900)
        used, client_used = cpu_seconds(self.process.pid) - before, children_cpu_seconds() - client_before
        value = parse(result.stdout + result.stderr)
        if value is None:
            sys.exit(f"could not read the result of {' '.join(client_argv)}:\n{result.stdout}{result.stderr}")
        return value, used, client_used

    def stop(self):
        self.process.terminate()  # our server shuts down gracefully on SIGTERM; the peers exit
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def check_grpc_status(port, body, path):
    """h2load only sees HTTP 200; make sure the call really succeeds (grpc-status 0) before counting it."""
    out = subprocess.run(
        ["nghttp", "-nv", "-d", body, "-H", "content-type: application/grpc", "-H", "te: trailers",
         f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, timeout=30).stdout
    if not re.search(r"grpc-status: 0\b", out):
        sys.exit(f"{path} on port {port} did not end with grpc-status 0:\n{out[-2000:]}")


def h2load(port, path, body, load, connections=4, streams=100):
    """`load`: ["-D", seconds] for a timed run, ["-n", count] for a counted one."""
    return ["h2load", "-c", str(connections), "-m", str(streams), "-t", "1"] + load + ["-d", body,
            "-H", "content-type: application/grpc", "-H", "te: trailers", f"http://127.0.0.1:{port}{path}"]


def parse_h2load(text):
    """(calls, req/s), only when every call finished."""
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", text)
    rate = re.search(r"finished in ([0-9.]+)m?s, ([0-9.]+) req/s", text)
    if not done or not rate or done.group(1) != done.group(2):
        return None
    return int(done.group(1)), float(rate.group(2))


def write_grpc_request(size, serialized_path, framed_path):
    """A grpc.testing.SimpleRequest asking for `size` response bytes with a `size`-byte payload: serialized (for
    `tradewire load --binary-file`) and framed (for `h2load -d`)."""
    def varint(n):
        out = bytearray()
        while True:
            b, n = n & 0x7F, n >> 7
            out.append(b | (0x80 if n else 0))
            if not n:
                return bytes(out)

    def field(number, wire, value):
        key = varint((number << 3) | wire)
        return key + (varint(value) if wire == 0 else varint(len(value)) + value)

    message = field(2, 0, size) + field(3, 2, field(2, 2, b"\0" * size))
    with open(serialized_path, "wb") as f:
        f.write(message)
    with open(framed_path, "wb") as f:
        f.write(b"\0" + len(message).to_bytes(4, "big") + message)


def summary(values):
    ordered = sorted(values)
    return statistics.median(ordered), ordered[0], ordered[-1]


def fmt(values, digits=0):
    median, low, high = summary(values)
    if len(values) == 1:
        return f"{median:,.{digits}f}"
    return f"{median:,.{digits}f} ({low:,.{digits}f}–{high:,.{digits}f})"


def start_local(folder, synchronous="full"):
    log = open(os.path.join(folder, "local.out"), "w")
    process = subprocess.Popen([TRADEWIRE, "local", "--data", os.path.join(folder, "data"), "--base-port", "0",
                                "--log-level", "warning", "--synchronous", synchronous], stdout=log, stderr=subprocess.STDOUT)
    end = time.time() + 180
    while time.time() < end:
        with open(os.path.join(folder, "local.out")) as f:
            if "Ctrl-C (or SIGTERM)" in f.read():
                return process
        if process.poll() is not None:
            sys.exit("tradewire local exited:\n" + open(os.path.join(folder, "local.out")).read())
        time.sleep(0.2)
    process.kill()
    sys.exit("tradewire local was not ready within 180 s")


def service_pids(local_pid):
    """The services of `tradewire local`, by the subcommand they run."""
    pids = {}
    # A child is listed under the thread that started it, which need not be the main one.
    children = []
    for task in os.listdir(f"/proc/{local_pid}/task"):
        with open(f"/proc/{local_pid}/task/{task}/children") as f:
            children += [int(pid) for pid in f.read().split()]
    for pid in children:
        with open(f"/proc/{pid}/cmdline") as f:
            argv = f.read().split("\0")
        service = argv[2] if argv[2] != "processor" else "processor " + argv[argv.index("--node") + 1]
        pids[service] = pid
    return pids
