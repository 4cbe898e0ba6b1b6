import { readdirSync } from 'node:fs';

/** `npm run bench -- <name>`: runs the exported `run()` of `bench/<name>.ts`; exit 2 for an unknown name. */
const available = readdirSync(import.meta.dirname)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.d.ts'))
  .map((f) => f.slice(0, -'.ts'.length))
  .sort();

const name = process.argv[2];
if (!name || !available.includes(name)) {
  console.error(`${name ? `unknown benchmark "${name}"` : 'no benchmark named'}; available: ${available.join(', ')}`);
  console.error('usage: npm run bench -- <name>');
  process.exit(2);
}

const bench = (await import(`./${name}.ts`)) as { run: () => Promise<void> };
try {
  await bench.run();
  process.exit(0);
} catch (err) {
  console.error(`\nbench ${name} FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
