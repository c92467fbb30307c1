// Retry limits of one cluster in one worker: circuitBreaker.maxParallelRetries and the retry budget
// (after Envoy's retry_budget). Retries in progress may be at most budgetPercent of the requests in
// progress to the cluster, but minConcurrency are always allowed, so a failing backend sees at most
// that much extra load instead of (1 + numRetries) x. A retry is "in progress" from the moment it is
// granted (its backoff included) until its exchange ends or asks for the next retry, which is then
// granted (or not) afresh. A denied retry is not an error: the failure is answered as it is.

export const LIMIT_RETRY_BUDGET = "retry_budget";
export const LIMIT_PARALLEL_RETRIES = "max_parallel_retries";

/** Defaults without a circuitBreaker policy (Envoy's own retry_budget defaults). */
export const DEFAULT_BUDGET_PERCENT = 20;
export const DEFAULT_BUDGET_MIN_CONCURRENCY = 3;

export class RetryBudget {
  /** Retries in progress. */
  retries = 0;
  private readonly fraction: number;

  constructor(
    percent = DEFAULT_BUDGET_PERCENT,
    private readonly minConcurrency = DEFAULT_BUDGET_MIN_CONCURRENCY,
    private readonly maxParallel = Infinity,
  ) {
    this.fraction = percent / 100;
  }

  /**
   * Grants one more retry (the caller then holds it until it calls done()), or returns the name of
   * the limit that refuses it. `requests`: requests in progress to the cluster, this one included.
   */
  grant(requests: number): string | null {
    const r = this.retries;
    if (r >= this.maxParallel) return LIMIT_PARALLEL_RETRIES;
    if (r >= this.minConcurrency && r >= Math.floor(requests * this.fraction)) return LIMIT_RETRY_BUDGET;
    this.retries = r + 1;
    return null;
  }

  done(): void {
    if (this.retries > 0) this.retries--;
  }
}
