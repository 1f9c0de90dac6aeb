import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { BROWSER, WINDOW, fakeApi } from '../../test/fakes';
import { PATHS_EVENT } from '../events';
import DropZone from './DropZone.svelte';

function png(name: string): File {
  return new File([new Uint8Array([137, 80, 78, 71])], name, { type: 'image/png' });
}

function firePaths(paths: unknown) {
  window.dispatchEvent(new CustomEvent(PATHS_EVENT, { detail: { paths } }));
}

describe('DropZone in the browser (uploads)', () => {
  it('uploads picked files and reports the server paths', async () => {
    const api = fakeApi({}, (_file, name) => ({ path: `/srv/up/${name}` }));
    const onpaths = vi.fn();
    render(DropZone, { capabilities: BROWSER, api, onpaths });
    const input = screen.getByTestId('file-input') as HTMLInputElement;
    expect(input).toHaveAttribute('type', 'file');
    expect(input).toHaveAttribute('multiple');
    await fireEvent.change(input, { target: { files: [png('a.png'), png('b.png')] } });
    await waitFor(() => expect(onpaths).toHaveBeenCalledWith(['/srv/up/a.png', '/srv/up/b.png']));
    expect(api.upload).toHaveBeenCalledTimes(2);
  });

  it('uploads dropped files', async () => {
    const api = fakeApi();
    const onpaths = vi.fn();
    render(DropZone, { capabilities: BROWSER, api, onpaths });
    await fireEvent.drop(screen.getByTestId('dropzone'), {
      dataTransfer: { files: [png('dropped.png')], types: ['Files'] },
    });
    await waitFor(() => expect(onpaths).toHaveBeenCalledWith(['/srv/uploads/dropped.png']));
  });

  it('walks a dropped folder and uploads the images in it', async () => {
    const api = fakeApi();
    const onpaths = vi.fn();
    render(DropZone, { capabilities: BROWSER, api, onpaths });
    const fileEntry = (name: string) => ({
      name,
      isFile: true,
      isDirectory: false,
      file: (ok: (f: File) => void) => ok(png(name)),
    });
    const batches = [[fileEntry('a.png'), fileEntry('notes.txt')], []];
    const folder = {
      name: 'pics',
      isFile: false,
      isDirectory: true,
      createReader: () => ({ readEntries: (ok: (e: unknown[]) => void) => ok(batches.shift() ?? []) }),
    };
    const items = [{ kind: 'file', webkitGetAsEntry: () => folder }];
    await fireEvent.drop(screen.getByTestId('dropzone'), {
      dataTransfer: { files: [new File([], 'pics')], items, types: ['Files'] },
    });
    await waitFor(() => expect(onpaths).toHaveBeenCalledWith(['/srv/uploads/a.png']));
    expect(api.upload).toHaveBeenCalledTimes(1);
  });

  it('leaves a text paste into a field alone', async () => {
    const api = fakeApi();
    const onpaths = vi.fn();
    render(DropZone, { capabilities: BROWSER, api, onpaths });
    const field = document.createElement('input');
    document.body.appendChild(field);
    await fireEvent.paste(field, {
      clipboardData: { files: [png('a.png')], items: [], types: ['text/plain', 'Files'] },
    });
    expect(api.upload).not.toHaveBeenCalled();
    field.remove();
  });

  it('reports an upload failure and keeps the rest', async () => {
    const api = fakeApi({}, (_file, name) => {
      if (name === 'bad.png') throw new Error('disk full');
      return { path: `/srv/up/${name}` };
    });
    const onpaths = vi.fn();
    const onerror = vi.fn();
    render(DropZone, { capabilities: BROWSER, api, onpaths, onerror });
    await fireEvent.change(screen.getByTestId('file-input'), {
      target: { files: [png('bad.png'), png('ok.png')] },
    });
    await waitFor(() => expect(onpaths).toHaveBeenCalledWith(['/srv/up/ok.png']));
    expect(onerror).toHaveBeenCalledWith('bad.png: disk full');
  });

  it('uploads a pasted image', async () => {
    const api = fakeApi();
    const onpaths = vi.fn();
    render(DropZone, { capabilities: BROWSER, api, onpaths });
    const blob = new File([new Uint8Array([1])], '', { type: 'image/png' });
    await fireEvent.paste(window, { clipboardData: { files: [blob], items: [] } });
    await waitFor(() => expect(onpaths).toHaveBeenCalledTimes(1));
    expect(onpaths.mock.calls[0][0][0]).toMatch(/^\/srv\/uploads\/pasted-\d+\.png$/);
  });

  it('ignores a paste without an image', async () => {
    const api = fakeApi();
    const onpaths = vi.fn();
    render(DropZone, { capabilities: BROWSER, api, onpaths });
    await fireEvent.paste(window, { clipboardData: { files: [], items: [] } });
    expect(api.upload).not.toHaveBeenCalled();
    expect(onpaths).not.toHaveBeenCalled();
  });
});

describe('DropZone in the desktop window (paths)', () => {
  it('takes full paths from pixup:paths events and does not upload drops', async () => {
    const api = fakeApi();
    const onpaths = vi.fn();
    render(DropZone, { capabilities: WINDOW, api, onpaths });
    expect(screen.queryByTestId('file-input')).toBeNull();
    await fireEvent.drop(screen.getByTestId('dropzone'), {
      dataTransfer: { files: [png('x.png')], types: ['Files'] },
    });
    firePaths(['/home/me/x.png', '/home/me/pics']);
    expect(onpaths).toHaveBeenCalledWith(['/home/me/x.png', '/home/me/pics']);
    expect(onpaths).toHaveBeenCalledTimes(1);
    expect(api.upload).not.toHaveBeenCalled();
  });

  it('ignores malformed events', () => {
    const onpaths = vi.fn();
    render(DropZone, { capabilities: WINDOW, api: fakeApi(), onpaths });
    firePaths('not a list');
    firePaths([1, null]);
    expect(onpaths).not.toHaveBeenCalled();
  });

  it('Add files / Add folder open the native dialogs', async () => {
    const api = fakeApi({
      pick_files: (r) => ({ paths: r.multiple ? ['/a.png', '/b.png'] : ['/a.png'] }),
      pick_folder: () => ({ paths: ['/pics'] }),
    });
    const onpaths = vi.fn();
    render(DropZone, { capabilities: WINDOW, api, onpaths });
    await fireEvent.click(screen.getByRole('button', { name: 'Add files' }));
    await waitFor(() => expect(onpaths).toHaveBeenCalledWith(['/a.png', '/b.png']));
    await fireEvent.click(screen.getByRole('button', { name: 'Add folder' }));
    await waitFor(() => expect(onpaths).toHaveBeenCalledWith(['/pics']));
  });

  it('a cancelled dialog adds nothing', async () => {
    const api = fakeApi({ pick_files: () => ({ paths: [] }) });
    const onpaths = vi.fn();
    render(DropZone, { capabilities: WINDOW, api, onpaths });
    await fireEvent.click(screen.getByRole('button', { name: 'Add files' }));
    await waitFor(() => expect(api.call).toHaveBeenCalled());
    expect(onpaths).not.toHaveBeenCalled();
  });

  it('still uploads a pasted image (the upload endpoint works in the window too)', async () => {
    const api = fakeApi();
    const onpaths = vi.fn();
    render(DropZone, { capabilities: WINDOW, api, onpaths });
    await fireEvent.paste(window, { clipboardData: { files: [png('clip.png')], items: [] } });
    await waitFor(() => expect(onpaths).toHaveBeenCalledWith(['/srv/uploads/clip.png']));
  });

  it('stops listening when unmounted', () => {
    const onpaths = vi.fn();
    const { unmount } = render(DropZone, { capabilities: WINDOW, api: fakeApi(), onpaths });
    unmount();
    firePaths(['/x.png']);
    expect(onpaths).not.toHaveBeenCalled();
  });
});
