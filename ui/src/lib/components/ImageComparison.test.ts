import { fireEvent, render, screen } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import ImageComparison from './ImageComparison.svelte';

const VIEW = { width: 800, height: 600 };

function parse(transform: string): { x: number; y: number; zoom: number } {
  const m = /translate\(([-\d.e]+)px, ([-\d.e]+)px\) scale\(([-\d.e]+)\)/.exec(transform);
  if (!m) throw new Error(`unexpected transform ${transform}`);
  return { x: Number(m[1]), y: Number(m[2]), zoom: Number(m[3]) };
}

function state() {
  const before = screen.getByTestId('compare-before') as HTMLImageElement;
  const after = screen.getByTestId('compare-after') as HTMLImageElement;
  expect(before.style.transform).toBe(after.style.transform);
  return parse(after.style.transform);
}

function setup(width = 1600, height = 1200) {
  render(ImageComparison, { before: '/b.png', after: '/a.png', width, height });
  return screen.getByTestId('compare-viewport');
}

describe('ImageComparison', () => {
  beforeEach(() => {
    vi.spyOn(HTMLElement.prototype, 'getBoundingClientRect').mockImplementation(
      () => new DOMRect(100, 50, VIEW.width, VIEW.height),
    );
  });

  it('starts fitted: the whole result visible and centred, both images the same size', () => {
    setup();
    const { x, y, zoom } = state();
    expect(zoom).toBeCloseTo(0.5);
    expect(x).toBeCloseTo(0);
    expect(y).toBeCloseTo(0);
    expect(screen.getByTestId('zoom-level')).toHaveTextContent('50%');
    expect(screen.getByTestId('compare-before').style.width).toBe('1600px');
    expect(screen.getByTestId('compare-after').style.width).toBe('1600px');
  });

  it('wheel zooms around the cursor, both sides locked together', async () => {
    const viewport = setup();
    const s0 = state();
    // The image point under the cursor before the zoom...
    const cx = 300,
      cy = 200; // viewport coordinates
    const imgX = (cx - s0.x) / s0.zoom;
    const imgY = (cy - s0.y) / s0.zoom;
    await fireEvent.wheel(viewport, { deltaY: -300, clientX: 100 + cx, clientY: 50 + cy });
    const s1 = state();
    expect(s1.zoom).toBeGreaterThan(s0.zoom);
    // ...is still under the cursor after it.
    expect(s1.x + imgX * s1.zoom).toBeCloseTo(cx, 6);
    expect(s1.y + imgY * s1.zoom).toBeCloseTo(cy, 6);
    expect(screen.getByTestId('zoom-level')).toHaveTextContent(`${Math.round(s1.zoom * 100)}%`);

    await fireEvent.wheel(viewport, { deltaY: 600, clientX: 100 + cx, clientY: 50 + cy });
    expect(state().zoom).toBeLessThan(s1.zoom);
  });

  it('1:1 shows result pixels as screen pixels; Fit goes back', async () => {
    setup();
    await fireEvent.click(screen.getByTestId('zoom-1to1'));
    expect(state().zoom).toBe(1);
    expect(screen.getByTestId('zoom-level')).toHaveTextContent('100%');
    // the centre of the view stays on the same image point (the centre of the image)
    const { x, y } = state();
    expect(x + 800 * 1).toBeCloseTo(400);
    expect(y + 600 * 1).toBeCloseTo(300);
    await fireEvent.click(screen.getByTestId('zoom-fit'));
    expect(state().zoom).toBeCloseTo(0.5);
    expect(screen.getByTestId('zoom-level')).toHaveTextContent('50%');
  });

  it('drag pans both images', async () => {
    const viewport = setup();
    await fireEvent.click(screen.getByTestId('zoom-1to1'));
    const s0 = state();
    await fireEvent.pointerDown(viewport, { pointerId: 1, button: 0, clientX: 200, clientY: 200 });
    await fireEvent.pointerMove(viewport, { pointerId: 1, clientX: 260, clientY: 170 });
    await fireEvent.pointerUp(viewport, { pointerId: 1, clientX: 260, clientY: 170 });
    const s1 = state();
    expect(s1.x - s0.x).toBeCloseTo(60);
    expect(s1.y - s0.y).toBeCloseTo(-30);
    expect(s1.zoom).toBe(s0.zoom);
  });

  it('is keyboard accessible: focusable, + / - zoom, arrows pan, 0 fits, 1 is 1:1', async () => {
    const viewport = setup();
    expect(viewport).toHaveAttribute('tabindex', '0');
    viewport.focus();
    await fireEvent.keyDown(viewport, { key: '1' });
    expect(state().zoom).toBe(1);
    await fireEvent.keyDown(viewport, { key: '+' });
    expect(state().zoom).toBeCloseTo(1.25);
    await fireEvent.keyDown(viewport, { key: '-' });
    expect(state().zoom).toBeCloseTo(1);
    const before = state();
    await fireEvent.keyDown(viewport, { key: 'ArrowRight' });
    expect(state().x).toBeCloseTo(before.x - 50);
    await fireEvent.keyDown(viewport, { key: '0' });
    expect(state().zoom).toBeCloseTo(0.5);
    for (const button of screen.getAllByRole('button')) expect(button.tagName).toBe('BUTTON');
  });

  it('the split slider moves the divide between before and after', async () => {
    setup();
    const split = screen.getByTestId('compare-split');
    await fireEvent.input(split, { target: { value: '25' } });
    const clip = (screen.getByTestId('compare-after').parentElement as HTMLElement).style.clipPath;
    expect(clip).toBe('inset(0 0 0 25%)');
  });
});
