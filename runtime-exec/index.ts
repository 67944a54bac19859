/** runtime-exec: public surface (grows with its issue). */
export {};
