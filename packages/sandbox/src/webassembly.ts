/**
 * The slice of the WebAssembly JS API this package uses. Node provides it at run time; the
 * repository's TypeScript lib (ES2023, no DOM) does not declare it.
 */
declare global {
  namespace WebAssembly {
    class Module {
      constructor(bytes: Uint8Array);
      static exports(module: Module): Array<{ name: string; kind: string }>;
      static imports(module: Module): Array<{ module: string; name: string; kind: string }>;
    }
    class Instance {
      constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
      readonly exports: Record<string, unknown>;
    }
    class Memory {
      readonly buffer: ArrayBuffer;
    }
    class RuntimeError extends Error {}
  }
}
export {};
