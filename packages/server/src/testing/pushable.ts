/**
 * An async iterable you push into, for the request side of a client stream. Built on an async
 * generator so it has the `throw()` Connect requires of request iterables.
 */
export class Pushable<T> implements AsyncIterable<T> {
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
    if (this.ended) throw new Error("pushed after end");
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
