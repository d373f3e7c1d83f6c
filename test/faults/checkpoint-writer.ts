/**
 * The child process of the kill test: claims a run folder and writes a
 * checkpoint-sized safetensors file into it again and again, until it is
 * killed. Each file's values are its write number, so a reader can tell
 * that what it loads is one whole write.
 */
import { wrap } from '@ndgraph/graph';
import { claimRunFolder, saveSafetensors } from '@ndgraph/nn/node';

const dir = process.argv[2];
claimRunFolder(dir);
const values = new Float32Array(2 ** 20); // 4 MiB: a write takes long enough to be killed in the middle
process.stdout.write('ready\n');
for (let write = 1; ; write++) {
  values.fill(write);
  saveSafetensors(`${dir}/checkpoint.safetensors`, { 'variables/w': wrap(values, [values.length]) }, { write: String(write) });
}
