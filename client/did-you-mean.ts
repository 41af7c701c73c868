export { closestMatch } from '../config/did-you-mean';
