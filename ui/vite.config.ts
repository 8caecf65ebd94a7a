import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The admin UI is served by the manager under /manager/, from dist/ui/ of the repository.
 * Preact's JSX runtime replaces React's; no plugin is needed for a production build.
 */
export default defineConfig({
  base: '/manager/',
  root: fileURLToPath(new URL('.', import.meta.url)),
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    assetsDir: 'assets',
  },
  server: {
    // `npm run dev -w ui` against a manager on 8080.
    proxy: { '/manager/api': 'http://127.0.0.1:8080' },
  },
});
