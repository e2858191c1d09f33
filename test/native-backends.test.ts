// Which prebuilt binary the addon loader tries first: CUDA builds live beside the CPU one
// (prebuilds/linux-x64-cuda13/ and prebuilds/linux-x64/) and are preferred where an NVIDIA
// driver is loaded or MLX_BACKEND asks for CUDA; install and prebuild name the folders the same.
import { describe, expect, it } from 'vitest';
import { prebuildDirs } from '../src/native.js';
// @ts-expect-error: a plain .mjs script without types
import { prebuildDirName } from '../scripts/setup-mlx.mjs';

const platform = `${process.platform}-${process.arch}`;

describe('prebuilt binaries per backend', () => {
  it('installs and prebuilds CUDA builds in their own folder', () => {
    expect(prebuildDirName('cuda13', 'linux', 'x64')).toBe('linux-x64-cuda13');
    expect(prebuildDirName('cuda12', 'linux', 'x64')).toBe('linux-x64-cuda12');
    expect(prebuildDirName('cpu', 'linux', 'x64')).toBe('linux-x64');
    expect(prebuildDirName('metal', 'darwin', 'arm64')).toBe('darwin-arm64');
  });

  it.runIf(process.platform === 'linux')('tries CUDA first with a driver or when asked, the CPU build first otherwise', () => {
    expect(prebuildDirs({}, true)).toEqual([`${platform}-cuda13`, `${platform}-cuda12`, platform]);
    expect(prebuildDirs({}, false)).toEqual([platform, `${platform}-cuda13`, `${platform}-cuda12`]);
    expect(prebuildDirs({ MLX_BACKEND: 'cuda12' }, false)).toEqual([`${platform}-cuda12`, `${platform}-cuda13`, platform]);
    expect(prebuildDirs({ MLX_BACKEND: 'cpu' }, true)).toEqual([platform]);
  });
});
