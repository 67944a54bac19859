/** cache: public surface (grows with its issue). */
export {};
