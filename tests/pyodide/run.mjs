// Run a Python file under Pyodide in Node: node run.mjs PYODIDE_DIR SCRIPT.py WHEEL...
// Each wheel is unpacked into site-packages (no micropip, so nothing is fetched);
// the script's standard output and error pass through, and its exception exits 1.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [pyodideDir, script, ...wheels] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(join(pyodideDir, "pyodide.mjs")).href);
const pyodide = await loadPyodide({
  indexURL: pyodideDir,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
for (const wheel of wheels) {
  pyodide.unpackArchive(new Uint8Array(readFileSync(wheel)), "wheel");
}
try {
  pyodide.runPython(readFileSync(script, "utf8"), { filename: script });
} catch (error) {
  process.stderr.write(String(error.message || error) + "\n");
  process.exit(1);
}
