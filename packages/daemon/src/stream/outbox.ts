/**
 * The request side of the host stream: messages pushed here are written in order, one at a time.
 * Built on an async generator because Connect requires request iterables to implement `throw()`.
 */
export class Outbox<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private ended = false;
  private wake: (() => void) | undefined;
  private readonly generator: AsyncGenerator<T>;

  constructor() {
    const self = this;
    this.generator = (async function* () {
      for (;;) {
        const item = self.items.shift();
        if (item !== undefined) {
          yield item;
          continue;
        }
        if (self.ended) return;
        await new Promise<void>((resolve) => {
          self.wake = resolve;
        });
        self.wake = undefined;
      }
    })();
  }

  push(item: T): void {
    if (this.ended) return;
    this.items.push(item);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  [Symbol.asyncIterator](): AsyncGenerator<T> {
    return this.generator;
  }
}
