"""PyTorch (CPU) LeNet-5 benchmark engine: the same problem as bench/ndgraph.ts.

    /usr/bin/python3 bench/torch_lenet.py --data FILE [--json] [--threads N] [--quick]
        [--train-warmup N] [--train-steps N] [--infer-warmup N] [--infer-batches N] [--windows N]

bench/lenet.ts runs it with the data file it writes (bench/common.ts
writeBenchData: safetensors, read here with the standard library) and passes
the step counts of the fast engines (FAST_ENGINE_COUNTS in
bench/engine-common.ts) explicitly; the defaults below are the same numbers.

The model is LeNet-5 as ndgraph builds it, from ndgraph's initial weights:
conv 5x5x6 'same' -> relu -> maxpool 2 -> conv 5x5x16 'valid' -> relu ->
maxpool 2 -> flatten -> dense 120 -> relu -> dense 84 -> relu -> dense 10.
The data is NHWC; each batch is permuted to NCHW inside the timed step.
ndgraph flattens [N, 5, 5, 16] (NHWC); PyTorch flattens [N, 16, 5, 5]
(NCHW), so the rows of the first dense layer's weights are permuted once at
load to match. Training: momentum SGD (0.9, lr 0.01), softmax cross-entropy
(mean), batch 64, float32, in the stored batch order. Inference: batches of
256 in eval mode under torch.inference_mode().

Prints one JSON line with --json (the fields of EngineResult in
bench/engine-common.ts), a summary line otherwise.
"""

import argparse
import json
import os
import struct
import sys
import time

TRAIN_BATCH = 64
INFERENCE_BATCH = 256
LEARNING_RATE = 0.01
MOMENTUM = 0.9
LOSSES_TO_COMPARE = 5
IMAGE_PIXELS = 28 * 28
MB = 1024 * 1024
# FAST_ENGINE_COUNTS and FAST_ENGINE_QUICK_COUNTS of bench/engine-common.ts.
COUNTS = {'trainWarmup': 50, 'trainSteps': 250, 'inferWarmup': 10, 'inferBatches': 60, 'windows': 5}
QUICK_COUNTS = {'trainWarmup': 10, 'trainSteps': 40, 'inferWarmup': 3, 'inferBatches': 12, 'windows': 4}
# Largest |logit - ndgraph's logit| allowed on the first inference batch from the initial weights.
LOGITS_TOLERANCE = 1e-4

PARAMETERS = [
    ('lenet/conv1/conv/w', [5, 5, 1, 6]),
    ('lenet/conv1/conv/b', [6]),
    ('lenet/conv2/conv/w', [5, 5, 6, 16]),
    ('lenet/conv2/conv/b', [16]),
    ('lenet/fc1/dense/w', [400, 120]),
    ('lenet/fc1/dense/b', [120]),
    ('lenet/fc2/dense/w', [120, 84]),
    ('lenet/fc2/dense/b', [84]),
    ('lenet/logits/w', [84, 10]),
    ('lenet/logits/b', [10]),
]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', required=True, help='the data file bench/lenet.ts writes')
    p.add_argument('--json', action='store_true')
    p.add_argument('--quick', action='store_true')
    p.add_argument('--threads', type=int, default=1)
    for name in ('train-warmup', 'train-steps', 'infer-warmup', 'infer-batches', 'windows'):
        p.add_argument(f'--{name}', type=int)
    args = p.parse_args()
    counts = dict(QUICK_COUNTS if args.quick else COUNTS)
    for key, name in (('trainWarmup', 'train_warmup'), ('trainSteps', 'train_steps'), ('inferWarmup', 'infer_warmup'),
                      ('inferBatches', 'infer_batches'), ('windows', 'windows')):
        value = getattr(args, name)
        if value is not None:
            if value < 0:
                p.error(f'--{name.replace("_", "-")}: expected a whole number >= 0')
            counts[key] = value
    counts['windows'] = max(1, counts['windows'])
    if args.threads < 1:
        p.error('--threads: expected a whole number >= 1')
    return args, counts


def status_kb(field):
    """A field of /proc/self/status in kB (VmRSS, VmHWM), or None off Linux."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_bytes():
    """Current resident set size, from /proc/self/statm (cheap enough for every step)."""
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except OSError:
        return 0


def read_data(path):
    """The safetensors-format file of bench/common.ts writeBenchData: header and the raw bytes (one bytearray)."""
    with open(path, 'rb') as f:
        raw = bytearray(f.read())
    (header_length,) = struct.unpack_from('<Q', raw, 0)
    header = json.loads(raw[8:8 + header_length].decode('utf8'))
    return header, raw, 8 + header_length


class Sampler:
    def __init__(self):
        self.peak = 0

    def sample(self):
        r = rss_bytes()
        if r > self.peak:
            self.peak = r


def median(values):
    if not values:
        return float('nan')
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def time_windows(step, warmup, count, windows, sampler):
    """As timeWindows in bench/engine-common.ts: untimed warm-up, then `windows` equal timed windows."""
    for _ in range(warmup):
        step()
        sampler.sample()
    per_window = max(1, count // windows)
    result = {'imagesPerSecond': [], 'cpuShare': [], 'imagesPerCpuSecond': []}
    for _ in range(windows):
        images = 0
        cpu_before = time.process_time()
        started = time.perf_counter()
        for _ in range(per_window):
            images += step()
            sampler.sample()
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
        result['imagesPerSecond'].append(images / wall)
        result['cpuShare'].append(cpu / wall)
        result['imagesPerCpuSecond'].append(images / cpu if cpu > 0 else float('inf'))
    return result


def main():
    started = time.perf_counter()
    args, counts = parse_args()
    header, raw, data_start = read_data(args.data)
    rss_after_data_mb = rss_bytes() / MB
    sampler = Sampler()

    # The engine is loaded after the data, as in the JavaScript engines.
    # The BLAS under torch (OpenBLAS when Debian's libopenblas is installed) starts a
    # thread per core of its own unless told otherwise: give it the engine's count.
    for variable in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ[variable] = str(args.threads)
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)

    def tensor(name, dtype):
        entry = header.get(name)
        if entry is None:
            raise SystemExit(f'{args.data}: no tensor {name!r}')
        expected = {torch.float32: 'F32', torch.int32: 'I32'}[dtype]
        if entry['dtype'] != expected:
            raise SystemExit(f'{args.data}: tensor {name!r} has dtype {entry["dtype"]}, expected {expected}')
        begin, end = entry['data_offsets']
        t = torch.frombuffer(raw, dtype=dtype, count=(end - begin) // 4, offset=data_start + begin)
        return t.reshape(entry['shape'])

    images = tensor('train/images', torch.float32)  # [N, 28, 28, 1], a view on the file's bytes
    labels = tensor('train/labels', torch.int32).long()
    order = tensor('train/order', torch.int32).long()
    if order.numel() % TRAIN_BATCH:
        raise SystemExit(f'batch order of {order.numel()} examples is not a whole number of {TRAIN_BATCH}-example batches')

    init = {}
    for name, shape in PARAMETERS:
        w = tensor(f'init/{name}', torch.float32)
        if list(w.shape) != shape:
            raise SystemExit(f'{args.data}: init/{name} should be float32 {shape}, found {list(w.shape)}')
        init[name] = w

    class LeNet5(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(1, 6, 5, padding=2)
            self.conv2 = torch.nn.Conv2d(6, 16, 5)
            self.fc1 = torch.nn.Linear(400, 120)
            self.fc2 = torch.nn.Linear(120, 84)
            self.logits = torch.nn.Linear(84, 10)

        def forward(self, x_nhwc):
            x = x_nhwc.permute(0, 3, 1, 2)  # NHWC -> NCHW
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = torch.flatten(x, 1)  # NCHW order: channel, row, column
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return self.logits(x)

    model = LeNet5()
    with torch.no_grad():
        # Conv filters: ndgraph [kh, kw, in, out] -> PyTorch [out, in, kh, kw].
        model.conv1.weight.copy_(init['lenet/conv1/conv/w'].permute(3, 2, 0, 1))
        model.conv1.bias.copy_(init['lenet/conv1/conv/b'])
        model.conv2.weight.copy_(init['lenet/conv2/conv/w'].permute(3, 2, 0, 1))
        model.conv2.bias.copy_(init['lenet/conv2/conv/b'])
        # Dense: ndgraph [in, out] -> PyTorch [out, in]. fc1's rows follow ndgraph's NHWC flatten ((h * 5 + w) * 16 + c);
        # PyTorch's flatten is NCHW (c * 25 + h * 5 + w), so reorder them: [h, w, c, out] -> [c, h, w, out].
        fc1 = init['lenet/fc1/dense/w'].reshape(5, 5, 16, 120).permute(2, 0, 1, 3).reshape(400, 120)
        model.fc1.weight.copy_(fc1.t())
        model.fc1.bias.copy_(init['lenet/fc1/dense/b'])
        model.fc2.weight.copy_(init['lenet/fc2/dense/w'].t())
        model.fc2.bias.copy_(init['lenet/fc2/dense/b'])
        model.logits.weight.copy_(init['lenet/logits/w'].t())
        model.logits.bias.copy_(init['lenet/logits/b'])

    details = {
        'torch': torch.__version__,
        'python': sys.version.split()[0],
        'threads': torch.get_num_threads(),
        # Debian's torch calls the generic libblas.so.3; which library that is, the system's alternatives decide.
        'blas': os.path.realpath('/usr/lib/x86_64-linux-gnu/libblas.so.3'),
        'interopThreads': torch.get_num_interop_threads(),
        'mkldnn': torch.backends.mkldnn.is_available(),
        'model': 'torch.nn.Conv2d, Linear, F.relu, F.max_pool2d; NHWC batch permuted to NCHW in the step; '
                 'F.cross_entropy (mean); torch.optim.SGD(momentum=0.9); inference under torch.inference_mode()',
        'flatten': "NCHW; the first dense layer's weight rows are permuted once at load to match ndgraph's NHWC flatten",
    }

    inference_batches = images.shape[0] // INFERENCE_BATCH
    first_batch = images[:INFERENCE_BATCH]
    if 'check/logits' in header:
        # The same check the onnxruntime engine makes: this is ndgraph's model, from the same weights.
        reference = tensor('check/logits', torch.float32)
        model.eval()
        with torch.inference_mode():
            difference = (model(first_batch) - reference).abs().max().item()
        details['logitsCheck'] = {'maxAbsDifference': difference, 'tolerance': LOGITS_TOLERANCE}
        if not difference <= LOGITS_TOLERANCE:
            raise SystemExit(f'pytorch: logits differ from ndgraph\'s by up to {difference:.3g} (> {LOGITS_TOLERANCE}) on the first batch')

    # Training: the stored batch order, endlessly; each batch gathered into reused buffers, as the other engines do.
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    batch_images = torch.empty((TRAIN_BATCH, 28, 28, 1), dtype=torch.float32)
    batch_labels = torch.empty((TRAIN_BATCH,), dtype=torch.long)
    losses = []
    position = [0]

    def train_step():
        if position[0] >= order.numel():
            position[0] = 0
        index = order[position[0]:position[0] + TRAIN_BATCH]
        position[0] += TRAIN_BATCH
        torch.index_select(images, 0, index, out=batch_images)
        torch.index_select(labels, 0, index, out=batch_labels)
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(batch_images), batch_labels)
        loss.backward()
        optimizer.step()
        value = loss.item()
        if value != value or value in (float('inf'), float('-inf')):
            raise SystemExit(f'pytorch: training diverged (loss {value}) at step {len(losses) + 1}')
        losses.append(value)
        return TRAIN_BATCH

    train = time_windows(train_step, counts['trainWarmup'], counts['trainSteps'], counts['windows'], sampler)

    # Inference: batches of 256 in dataset order (views, no copy), eval mode, logits as a NumPy-visible CPU tensor.
    model.eval()
    next_batch = [0]

    def infer_step():
        b = next_batch[0] % inference_batches
        next_batch[0] += 1
        with torch.inference_mode():
            logits = model(images[b * INFERENCE_BATCH:(b + 1) * INFERENCE_BATCH])
        logits.numpy()
        return INFERENCE_BATCH

    infer = time_windows(infer_step, counts['inferWarmup'], counts['inferBatches'], counts['windows'], sampler)

    sampled_peak_mb = sampler.peak / MB
    hwm = status_kb('VmHWM')
    result = {
        'engine': 'pytorch',
        'details': details,
        'counts': counts,
        'trainWindows': train['imagesPerSecond'],
        'trainImagesPerSecond': median(train['imagesPerSecond']),
        'trainCpuShare': median(train['cpuShare']),
        'trainImagesPerCpuSecond': median(train['imagesPerCpuSecond']),
        'inferWindows': infer['imagesPerSecond'],
        'inferImagesPerSecond': median(infer['imagesPerSecond']),
        'inferCpuShare': median(infer['cpuShare']),
        'inferImagesPerCpuSecond': median(infer['imagesPerCpuSecond']),
        'firstLosses': losses[:LOSSES_TO_COMPARE],
        'lastLoss': losses[-1] if losses else None,
        'memory': {
            'rssAfterDataMB': rss_after_data_mb,
            'rssSampledPeakMB': sampled_peak_mb,
            'peakRssMB': hwm / 1024 if hwm is not None else sampled_peak_mb,
        },
        'seconds': time.perf_counter() - started,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"pytorch: train {result['trainImagesPerSecond']:.1f} img/s (CPU share {result['trainCpuShare']:.2f}), "
        f"inference {result['inferImagesPerSecond']:.1f} img/s (CPU share {result['inferCpuShare']:.2f}), "
        f"peak RSS {result['memory']['peakRssMB']:.0f} MB ({rss_after_data_mb:.0f} MB after loading the data), "
        f"first losses {' '.join(f'{x:.5f}' for x in result['firstLosses'])}, last loss {result['lastLoss']:.4f}, "
        f"{result['seconds']:.1f} s"
    )


if __name__ == '__main__':
    main()
