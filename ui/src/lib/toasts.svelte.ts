export type ToastKind = 'info' | 'success' | 'warning' | 'error';

export interface ToastItem {
  id: number;
  kind: ToastKind;
  message: string;
}

/** How long an info/success/warning toast stays; errors stay until dismissed. */
export const AUTO_DISMISS_MS = 5000;

/** The global stack of notifications. Errors stay until dismissed; the rest go by themselves. */
export class Toasts {
  items = $state<ToastItem[]>([]);
  #next = 1;
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping, never rendered
  #timers = new Map<number, ReturnType<typeof setTimeout>>();
  readonly timeout: number;

  constructor(timeout: number = AUTO_DISMISS_MS) {
    this.timeout = timeout;
  }

  push(kind: ToastKind, message: string): number {
    const id = this.#next++;
    this.items.push({ id, kind, message });
    if (kind !== 'error') {
      this.#timers.set(
        id,
        setTimeout(() => this.dismiss(id), this.timeout),
      );
    }
    return id;
  }

  info(message: string): number {
    return this.push('info', message);
  }

  success(message: string): number {
    return this.push('success', message);
  }

  warning(message: string): number {
    return this.push('warning', message);
  }

  error(message: string): number {
    return this.push('error', message);
  }

  dismiss(id: number): void {
    const timer = this.#timers.get(id);
    if (timer !== undefined) clearTimeout(timer);
    this.#timers.delete(id);
    this.items = this.items.filter((item) => item.id !== id);
  }

  clear(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.items = [];
  }
}
