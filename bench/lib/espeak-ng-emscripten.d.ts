// The Emscripten build ships no types; what the speech benchmark calls of it.
declare module '@echogarden/espeak-ng-emscripten' {
  interface ESpeakNGWorker {
    set_voice(voice: string): void;
    synthesize(text: string, callback: (samples: Int16Array) => number): void;
    readonly samplerate: number;
  }
  const load: () => Promise<{ eSpeakNGWorker: new () => ESpeakNGWorker }>;
  export default load;
}
