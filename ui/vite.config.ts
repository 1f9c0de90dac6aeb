/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import tailwindcss from '@tailwindcss/vite';

export default defineConfig({
  base: './',
  plugins: [tailwindcss(), svelte()],
  // `PIXUP_API=http://127.0.0.1:PORT npm run dev`: the dev server forwards /api to a running
  // `pixup serve`; open the dev page with that server's ?token=.
  server: process.env.PIXUP_API
    ? { proxy: { '/api': { target: process.env.PIXUP_API, changeOrigin: true } } }
    : undefined,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
  },
  resolve: process.env.VITEST ? { conditions: ['browser'] } : undefined,
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    setupFiles: ['./src/test/setup.ts'],
    restoreMocks: true,
  },
});
