/**
 * Collects calls and runs `fn` once the caller has been quiet for `wait` ms.
 */
export function debounce(fn, wait = 100, { leading = false, maxWait = null } = {}) {
  let timer = null;
  let lastArgs = null;
  let firstCallAt = null;

  function flush() {
    const args = lastArgs;
    lastArgs = null;
    firstCallAt = null;
    timer = null;
    if (args !== null) {
      return fn.apply(this, args);
    }
  }

  function debounced(...args) {
    const now = Date.now();
    if (firstCallAt === null) {
      firstCallAt = now;
      if (leading) {
        fn.apply(this, args);
        return;
      }
    }
    lastArgs = args;
    if (timer !== null) {
      clearTimeout(timer);
    }
    // Never wait longer than maxWait in total.
    const overdue = maxWait !== null && now - firstCallAt >= maxWait;
    timer = setTimeout(() => flush.call(this), overdue ? 0 : wait);
  }

  debounced.cancel = function cancel() {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    lastArgs = null;
    firstCallAt = null;
  };
  debounced.flush = () => flush();
  return debounced;
}
