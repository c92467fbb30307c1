// One progress line on stderr: rewritten in place on a terminal, one line per step otherwise.
const tty = process.stderr.isTTY === true;
let shown = false;

export function progress(text: string): void {
  if (tty) {
    process.stderr.write(`\r\x1b[2K${text}`);
    shown = true;
  } else process.stderr.write(`${text}\n`);
}

export function note(text: string): void {
  if (tty && shown) process.stderr.write("\r\x1b[2K");
  shown = false;
  process.stderr.write(`${text}\n`);
}
