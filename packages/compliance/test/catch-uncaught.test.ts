import { catchUncaught } from '@peernet/compliance';

describe('catchUncaught', () => {
  it('collects errors that would be uncaught, in order, and hands them back to the process on restore()', async () => {
    const uncaught = catchUncaught();
    try {
      const [first, second] = [new Error('first'), new Error('second')];
      queueMicrotask(() => {
        throw first;
      });
      setImmediate(() => {
        throw second;
      });
      expect(await uncaught.until(2, 2000)).toEqual([first, second]);
    } finally {
      uncaught.restore();
    }
    expect(process.hasUncaughtExceptionCaptureCallback()).toBe(false);
    uncaught.restore();
  });

  it('refuses a second catcher while one is active, so neither hides errors from the other', () => {
    const uncaught = catchUncaught();
    try {
      expect(() => catchUncaught()).toThrow();
    } finally {
      uncaught.restore();
    }
  });

  it('fails the wait when too few errors arrive', async () => {
    const uncaught = catchUncaught();
    try {
      await expect(uncaught.until(1, 50)).rejects.toThrow(/1 uncaught exception/);
    } finally {
      uncaught.restore();
    }
  });
});
