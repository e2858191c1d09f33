#!/usr/bin/env node
/**
 * `mlx-native <command>`: each command lives in src/cli/<command>.ts and exports `run(argv)`.
 * Options with no command (`mlx-native --model DIR --host H --port P`) run `serve`, so
 * mlx-native starts the way supervisors start an MLX server binary.
 */
const commands: Record<string, () => Promise<{ run(argv: string[]): Promise<number> }>> = {
  serve: () => import('./cli/serve.js'),
  generate: () => import('./cli/generate.js'),
  chat: () => import('./cli/chat.js'),
  info: () => import('./cli/info.js'),
  convert: () => import('./cli/convert.js'),
  bench: () => import('./cli/bench.js'),
  rpc: () => import('./cli/rpc.js'),
  doctor: () => import('./cli/doctor.js'),
};

const usage = `Usage: mlx-native <command> [options]
       mlx-native --model PATH [--host H] [--port P] [serve options]   (serve)

Commands:
  serve     --model PATH      OpenAI-compatible HTTP server
  generate  --model PATH --prompt TEXT
  chat      --model PATH      interactive chat
  info      --model PATH      model metadata
  convert   MODEL.gguf OUTDIR write an MLX model directory
  bench                       benchmarks against mlx-lm
  rpc                         JSON-RPC 2.0 over stdin/stdout (for supervisors)
  doctor    [--model PATH]    check the install: addon, MLX, device, a quick generation, the port

Run \`mlx-native <command> --help\` for a command's options.`;

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(usage);
    return name ? 0 : 1;
  }
  if (name.startsWith('-')) return (await commands.serve()).run(argv);
  const load = commands[name];
  if (!load) {
    console.error(`mlx-native: unknown command "${name}"\n\n${usage}`);
    return 1;
  }
  const cmd = await load();
  return cmd.run(rest);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as { code?: string; message?: string };
    console.error(`mlx-native: ${e.code ? `[${e.code}] ` : ''}${e.message ?? String(err)}`);
    process.exitCode = 1;
  },
);
