/**
 * Builds the console into `dist/` for the host to serve at `/console/`. Everything the page
 * needs is emitted as files of this origin: no inlined assets (`data:` URLs would need a looser
 * Content-Security-Policy), no module-preload polyfill (an inline script), no source maps.
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
    target: 'es2022',
  },
});
