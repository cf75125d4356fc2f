export * from './figure';
export * from './render';
export * from './table';
export * from './registry';
export * from './engineFigures';
export * from './pcfgFigures';
export * from './tracrFigures';
export * from './tinystoriesFigures';
