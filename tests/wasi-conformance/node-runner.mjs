// Runs a WASI conformance program under node's own WASI (node:wasi, uvwasi) as the reference:
//   node node-runner.mjs <module.wasm> <assets-dir> [--env K=V]... [--] [args...]
// The same layout as `enarx run --assets`: the asset directory preopened at "/".
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import process from 'node:process';

const [wasmPath, assets, ...rest] = process.argv.slice(2);
const env = {};
const args = [];
for (let i = 0; i < rest.length; ++i) {
  if (rest[i] === '--env') { const [k, ...v] = rest[++i].split('='); env[k] = v.join('='); }
  else if (rest[i] === '--') { args.push(...rest.slice(i + 1)); break; }
  else args.push(rest[i]);
}
const wasi = new WASI({ version: 'preview1', args: [wasmPath, ...args], env,
                        preopens: { '/': assets }, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(wasmPath));
const imports = wasi.getImportObject ? wasi.getImportObject()
                                     : { wasi_snapshot_preview1: wasi.wasiImport };
const instance = await WebAssembly.instantiate(module, imports);
process.exitCode = wasi.start(instance);
