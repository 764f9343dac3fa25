import { DTYPE_BYTES, elementCount, gatherFloat32, importError, readWeightFile, type CheckpointTensor, type Dtype } from './checkpoint-tensor.ts';
import { PyTuple, readPickle, type PickleHooks, type PyGlobal } from './pickle-reader.ts';
import { isZip, readZipDirectory } from './zip-reader.ts';

/**
 * pytorch_model.bin without Python: the zip checkpoint of torch.save (a
 * folder, named after the file or "archive", holding data.pkl and one file
 * per storage under data/) and the legacy format before it (pickles and raw
 * storages one after another). The pickle is read by the restricted reader;
 * the only callables it may name are the tensor and parameter rebuilders and
 * OrderedDict, the only other names the storage types.
 */

const STORAGE_TYPES: Record<string, Dtype> = {
  FloatStorage: 'F32',
  DoubleStorage: 'F64',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

interface Storage {
  readonly dtype: Dtype;
  readonly numel: number;
  /** Absent only while a legacy checkpoint's data, which follows its pickle, is not read yet. */
  bytes?: Uint8Array;
}

/** What _rebuild_tensor_v2 makes: a view into a storage, kept lazy until a weight is wanted. */
class TensorRecord {
  constructor(readonly storage: Storage, readonly offset: number, readonly shape: number[], readonly strides: number[]) {}
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

function int(v: unknown, what: string, where: string): number {
  return Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : importError(`${where}: ${what} ${String(v)} is not a non-negative integer`);
}

function intList(v: unknown, what: string, where: string): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : importError(`${where}: ${what} is not a tuple`);
  return items.map((x) => int(x, what, where));
}

function rebuildTensor(args: readonly unknown[], where: string): TensorRecord {
  const [storage, offset, size, stride] = args;
  if (!(typeof storage === 'object' && storage !== null && 'numel' in storage && 'dtype' in storage)) return importError(`${where}: tensor record without a storage`);
  const s = storage as Storage;
  const shape = intList(size, 'tensor size', where);
  const strides = intList(stride, 'tensor stride', where);
  const at = int(offset, 'storage offset', where);
  if (strides.length !== shape.length) importError(`${where}: tensor of ${shape.length} dimensions has ${strides.length} strides`);
  const count = elementCount(shape, where);
  let last = at;
  for (let d = 0; d < shape.length; d++) last += shape[d] === 0 ? 0 : (shape[d] - 1) * strides[d];
  if (count > 0 && last >= s.numel) importError(`${where}: tensor [${shape.join(',')}] at offset ${at} reaches element ${last} of a storage of ${s.numel}`);
  if (count > Math.max(s.numel, 1)) importError(`${where}: tensor [${shape.join(',')}] has more elements than its storage (${s.numel})`);
  return new TensorRecord(s, at, shape, strides);
}

function hooksFor(where: string, storageFor: (pid: readonly unknown[]) => Storage): PickleHooks {
  const allowed: Record<string, PyGlobal['call'] | null> = {
    'collections.OrderedDict': () => new Map(),
    'torch._utils._rebuild_tensor_v2': (a) => rebuildTensor(a, where),
    'torch._utils._rebuild_tensor': (a) => rebuildTensor(a, where),
    'torch._utils._rebuild_parameter': (a) => (a[0] instanceof TensorRecord ? a[0] : importError(`${where}: parameter without a tensor`)),
    ...Object.fromEntries(Object.keys(STORAGE_TYPES).map((k) => [`torch.${k}`, null])),
  };
  return {
    resolve(module, name) {
      const key = `${module}.${name}`;
      if (!Object.hasOwn(allowed, key)) {
        return importError(`${where}: the pickle names ${key}, which a state dict of tensors never needs; refused (nothing in the file is executed)`);
      }
      const call = allowed[key];
      return call ? { module, name, call } : { module, name };
    },
    persistentLoad(pid) {
      if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage') return importError(`${where}: persistent id that is not a storage`);
      return storageFor(pid.items);
    },
  };
}

function storageDtype(type: unknown, where: string): Dtype {
  const name = (type as PyGlobal | undefined)?.name;
  return name !== undefined && Object.hasOwn(STORAGE_TYPES, name) ? STORAGE_TYPES[name] : importError(`${where}: storage type ${String(name)} is not supported`);
}

function toTensors(root: unknown, where: string): CheckpointTensor[] {
  if (!(root instanceof Map)) return importError(`${where}: the checkpoint is not a dict of tensors`);
  const out: CheckpointTensor[] = [];
  for (const [name, value] of root) {
    if (typeof name !== 'string') return importError(`${where}: key ${String(name)} is not a tensor name`);
    if (!(value instanceof TensorRecord)) return importError(`${where}: ${name} is not a tensor (a state dict of tensors is expected)`);
    const { storage, shape, strides, offset } = value;
    out.push({ name, dtype: storage.dtype, shape, decode: () => gatherFloat32(storage.bytes!, storage.dtype, shape, strides, offset) });
  }
  return out;
}

function readZipCheckpoint(buf: Uint8Array, where: string): CheckpointTensor[] {
  const entries = readZipDirectory(buf, where);
  const pkls = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) return importError(`${where}: expected one <folder>/data.pkl in the zip, found ${pkls.length}`);
  const folder = pkls[0].slice(0, -'data.pkl'.length);
  const order = entries.get(`${folder}byteorder`);
  if (order && new TextDecoder().decode(order.read()).trim() !== 'little') importError(`${where}: big-endian checkpoints are not supported`);
  const storages = new Map<string, Storage>();
  const hooks = hooksFor(where, (pid) => {
    const [, type, key, , numel] = pid;
    const dtype = storageDtype(type, where);
    if (typeof key !== 'string' || !/^[\w.-]+$/.test(key)) return importError(`${where}: storage key ${String(key)} is not a plain name`);
    const cached = storages.get(key);
    if (cached) return cached;
    const entry = entries.get(`${folder}data/${key}`) ?? importError(`${where}: storage ${key} is missing from the zip`);
    const n = int(numel, 'storage size', where);
    const bytes = entry.read();
    if (bytes.length !== n * DTYPE_BYTES[dtype]) importError(`${where}: storage ${key} holds ${bytes.length} bytes, ${n} ${dtype} values need ${n * DTYPE_BYTES[dtype]}`);
    const s = { dtype, numel: n, bytes };
    storages.set(key, s);
    return s;
  });
  return toTensors(readPickle(entries.get(pkls[0])!.read(), hooks, where).value, where);
}

function readLegacyCheckpoint(buf: Uint8Array, where: string): CheckpointTensor[] {
  const plain = hooksFor(where, () => importError(`${where}: storage outside the state dict`));
  const magic = readPickle(buf, plain, where);
  if (magic.value !== LEGACY_MAGIC) importError(`${where}: not a PyTorch checkpoint (no legacy magic number)`);
  const protocol = readPickle(buf, plain, where, magic.end);
  if (protocol.value !== 1001) importError(`${where}: legacy checkpoint protocol ${String(protocol.value)} is not supported`);
  const sysInfo = readPickle(buf, plain, where, protocol.end);
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) importError(`${where}: big-endian checkpoints are not supported`);
  const pending = new Map<string, { dtype: Dtype; numel: number; bytes?: Uint8Array }>();
  const hooks = hooksFor(where, (pid) => {
    const [, type, key, , numel, view] = pid;
    if (typeof key !== 'string') return importError(`${where}: storage key is not a string`);
    if (view !== null && view !== undefined) return importError(`${where}: storage views of the legacy format are not supported`);
    const s = pending.get(key) ?? { dtype: storageDtype(type, where), numel: int(numel, 'storage size', where) };
    pending.set(key, s);
    return s;
  });
  const body = readPickle(buf, hooks, where, sysInfo.end);
  const keys = readPickle(buf, plain, where, body.end);
  if (!Array.isArray(keys.value)) return importError(`${where}: legacy checkpoint has no storage list`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = keys.end;
  for (const key of keys.value) {
    const s = pending.get(String(key)) ?? importError(`${where}: storage ${String(key)} is listed but never used`);
    if (p + 8 > buf.length) importError(`${where}: storage ${String(key)} is cut off`);
    const n = view.getBigInt64(p, true);
    const len = s.numel * DTYPE_BYTES[s.dtype];
    if (n !== BigInt(s.numel) || p + 8 + len > buf.length) importError(`${where}: storage ${String(key)} declares ${n} values, the record says ${s.numel}, ${buf.length - p - 8} bytes are left`);
    s.bytes = buf.subarray(p + 8, p + 8 + len);
    p += 8 + len;
  }
  for (const [key, s] of pending) if (!s.bytes) importError(`${where}: storage ${key} has no data`);
  return toTensors(body.value, where);
}

export function parsePytorchCheckpoint(buf: Uint8Array, where: string): CheckpointTensor[] {
  if (isZip(buf)) return readZipCheckpoint(buf, where);
  if (buf.length >= 2 && buf[0] === 0x80) return readLegacyCheckpoint(buf, where);
  return importError(`${where}: neither a PyTorch zip checkpoint nor a legacy pickle checkpoint`);
}

export async function readPytorchCheckpoint(path: string): Promise<CheckpointTensor[]> {
  return parsePytorchCheckpoint(await readWeightFile(path), path);
}
