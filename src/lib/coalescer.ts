export interface CoalescerOptions {
  /** Most inputs one execution takes. */
  maxBatch: number;
  /** Executions running at once; inputs arriving meanwhile wait and go together in the next one. */
  maxInFlight: number;
}

/**
 * Coalesces concurrent calls into batches: `submit` queues an input and resolves with its own result
 * once the batch holding it has run. A batch starts on the next turn of the event loop (so inputs
 * that arrive together go together) or, when `maxInFlight` batches are running, as soon as one ends.
 * `execute` answers one result per input, in input order; if it throws, every input of that batch
 * rejects with the error.
 */
export function createCoalescer<I, O>(execute: (inputs: I[]) => Promise<O[]>, options: CoalescerOptions) {
  let queue: Array<{ input: I; resolve: (output: O) => void; reject: (error: unknown) => void }> = [];
  let inFlight = 0;
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    while (queue.length > 0 && inFlight < options.maxInFlight) {
      const batch = queue.slice(0, options.maxBatch);
      queue = queue.slice(batch.length);
      inFlight++;
      execute(batch.map((entry) => entry.input)).then(
        (outputs) => batch.forEach((entry, index) => entry.resolve(outputs[index]!)),
        (error: unknown) => batch.forEach((entry) => entry.reject(error)),
      ).finally(() => {
        inFlight--;
        flush();
      });
    }
  }

  return {
    submit(input: I): Promise<O> {
      return new Promise<O>((resolve, reject) => {
        queue.push({ input, resolve, reject });
        if (!scheduled && inFlight < options.maxInFlight) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
  };
}
