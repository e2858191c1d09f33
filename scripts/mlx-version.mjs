// The one place the MLX version is pinned. Every script (wheel download, venv, bench) reads it.
export const MLX_VERSION = '0.32.4';
