// Request bodies of gRPC calls carry no content-length, so they cannot be buffered up front for a
// retry without breaking streaming calls (a bidi client may wait for a reply before it sends more).
// Instead the body streams to the first attempt while a copy is kept; a retry is possible only when
// the whole request arrived and fitted in the copy.
import { PassThrough, type Readable } from "node:stream";

export class ReplayCopy {
  private chunks: Buffer[] = [];
  private size = 0;
  private overflow = false;
  /** The request ended and every byte is in the copy. */
  complete = false;
  /** What the first attempt reads. */
  readonly stream = new PassThrough();

  constructor(src: Readable, private readonly limit: number) {
    const resume = (): void => void src.resume();
    src.on("data", (c: Buffer) => {
      if (!this.overflow) {
        this.size += c.length;
        if (this.size > this.limit) {
          this.overflow = true;
          this.chunks = [];
        } else this.chunks.push(c);
      }
      if (!this.stream.write(c)) {
        src.pause();
        this.stream.once("drain", resume);
      }
    });
    src.on("end", () => {
      this.complete = !this.overflow;
      this.stream.end();
    });
    src.on("error", (err: Error) => this.stream.destroy(err));
    src.on("close", () => {
      if (!src.readableEnded && !this.stream.destroyed) this.stream.destroy(new Error("request body aborted"));
    });
  }

  /** The whole body for another attempt, or null when it is not (yet) all here. */
  replay(): Buffer | null {
    return this.complete ? Buffer.concat(this.chunks, this.size) : null;
  }
}
